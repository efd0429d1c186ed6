// The read-only dashboard of `chaos-lab run`: a small server of its own on loopback (a run's
// labs come and go, mode after mode; the page stays), the same GET routes as under `up`.
import { newToken } from '../lab/lab.ts';
import { requireBearerToken } from '../lab/net/bearer-auth.ts';
import { labHttpApp, listeningPort } from '../lab/net/json-api.ts';
import { LiveFeed } from './live-feed.ts';
import type { HelloEvent } from './protocol.ts';
import { DASHBOARD_AUTH, registerDashboardRoutes } from './routes.ts';

/** A running read-only dashboard. */
export interface RunDashboard {
  /** The page's URL, token included: what the CLI prints. */
  readonly url: string;
  readonly feed: LiveFeed;
  /** Says bye to every page (their streams end), then stops the server. */
  close(reason: string): Promise<void>;
}

/** Starts a dashboard server on 127.0.0.1 (a free port) over a new feed with `hello`. */
export async function startRunDashboard(hello: HelloEvent): Promise<RunDashboard> {
  const feed = new LiveFeed({ hello });
  const token = newToken();
  const app = labHttpApp();
  requireBearerToken(app, token, 'use the URL the command printed', DASHBOARD_AUTH);
  registerDashboardRoutes(app, feed);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = listeningPort(app);
  // Nothing waits on the dashboard: a command that is done is not kept alive by an open page.
  app.server.unref();
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    feed,
    async close(reason) {
      feed.close(reason);
      await app.close();
    },
  };
}
