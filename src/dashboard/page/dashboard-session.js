// What the dashboard's modules share about the connection: the token from the page's own URL,
// the lab's hello, whether the page has stopped following the lab, and the actions under way.
/* global window, URLSearchParams */

/** The page's state shared across its modules; only dashboard.js sets `hello` and `stopped`. */
export const session = {
  /** From `?token=` (the URL chaos-lab printed): the control API's bearer token. */
  token: new URLSearchParams(window.location.search).get('token'),
  /** The stream's hello (null until it comes). */
  hello: null,
  /** True once the lab went away: nothing moves and no action can be taken any more. */
  stopped: false,
  /** Keys of the actions whose request is under way: their button stays disabled across maps. */
  inflight: new Set(),
};

/** True when the page may act on the lab (under `up`, while following it). */
export function canAct() {
  return Boolean(session.hello && session.hello.canAct);
}
