// Which failures mean "the connection or the server went away" (worth reconnecting and
// retrying) rather than "the statement is wrong" (retrying would only repeat it).

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

// SQLSTATEs: 08xxx connection exceptions; 57P01-57P03 the server is shutting down, crashed or
// starting; 25006 a write reached a read-only server (the old writer right after a failover).
const RETRYABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '25006']);

const DRIVER_MESSAGES = [
  'Connection terminated',
  'not queryable',
  'timeout exceeded when trying to connect',
  'Connection ended',
  'the database system is',
  // pg's query_timeout: no answer in time, the connection is presumed dead (a blackhole).
  'Query read timeout',
];

/** True when `error` is a lost or refused connection rather than a problem with the statement. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as Error & { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || RETRYABLE_SQLSTATES.has(code) || code.startsWith('08')) return true;
  }
  return DRIVER_MESSAGES.some((fragment) => error.message.includes(fragment));
}
