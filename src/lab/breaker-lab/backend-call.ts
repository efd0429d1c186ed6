// The function's call to the backend: one HTTP request with a client timeout. Every way it can
// fail is an error class with a code, so that the breaker counts it and the function answers
// it (502 or 504) without guessing.
import http from 'node:http';

/** The backend answered 5xx. */
export class BackendHttpError extends Error {
  readonly code = 'BACKEND_ERROR';
  readonly status: number;
  constructor(status: number) {
    super(`the backend answered ${status}`);
    this.name = 'BackendHttpError';
    this.status = status;
  }
}

/** No answer within the client timeout (a hang, a blackhole, too much latency). */
export class BackendTimeoutError extends Error {
  readonly code = 'BACKEND_TIMEOUT';
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`the backend did not answer within ${timeoutMs} ms`);
    this.name = 'BackendTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** The connection failed (refused, reset) before an answer. */
export class BackendUnreachableError extends Error {
  readonly code = 'BACKEND_UNREACHABLE';
  constructor(cause: Error) {
    super(`the backend could not be reached: ${cause.message}`, { cause });
    this.name = 'BackendUnreachableError';
  }
}

/** An answer below 500. */
export interface BackendAnswer {
  status: number;
  body: unknown;
}

// Module level, as a Lambda's SDK clients are: kept-alive connections survive from one
// invocation to the next in the same environment, and die with it.
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** GETs `url`; rejects on 5xx, on a connection error, or past `timeoutMs`. */
export function callBackend(url: string, timeoutMs: number): Promise<BackendAnswer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const request = http.get(url, { agent }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', (error) => settle(() => reject(new BackendUnreachableError(error))));
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        if (status >= 500) return settle(() => reject(new BackendHttpError(status)));
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: hand on the text
        }
        settle(() => resolve({ status, body }));
      });
    });
    const timer = setTimeout(() => {
      settle(() => reject(new BackendTimeoutError(timeoutMs)));
      request.destroy(); // the socket may be hung: never reuse it
    }, timeoutMs);
    request.on('error', (error) => settle(() => reject(new BackendUnreachableError(error))));
  });
}
