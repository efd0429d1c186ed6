// The gateway's own answers, when the function did not give one (API Gateway's and Lambda's
// errors, in small). Each has a stable code and the HTTP status the gateway answers with.

/** Every environment is busy and the queue is full: Lambda's throttle. */
export class ThrottledError extends Error {
  readonly code = 'THROTTLED';
  readonly status = 429;
  constructor(concurrency: number, queueSize: number) {
    super(`throttled: ${concurrency} environments busy and ${queueSize} requests queued`);
    this.name = 'ThrottledError';
  }
}

/** The function did not answer within the function timeout; its environment was killed. */
export class FunctionTimeoutError extends Error {
  readonly code = 'FUNCTION_TIMEOUT';
  readonly status = 504;
  constructor(timeoutMs: number) {
    super(`the function did not answer within ${timeoutMs} ms`);
    this.name = 'FunctionTimeoutError';
  }
}

/** The environment died, or the handler threw, before it answered. */
export class FunctionCrashedError extends Error {
  readonly code = 'FUNCTION_CRASHED';
  readonly status = 502;
  constructor(detail: string) {
    super(`the function failed: ${detail}`);
    this.name = 'FunctionCrashedError';
  }
}

/** A new environment could not start (its init failed). */
export class FunctionInitError extends Error {
  readonly code = 'FUNCTION_INIT_FAILED';
  readonly status = 502;
  constructor(detail: string) {
    super(`an execution environment could not start: ${detail}`);
    this.name = 'FunctionInitError';
  }
}

/** The gateway is shutting down. */
export class GatewayClosingError extends Error {
  readonly code = 'GATEWAY_CLOSING';
  readonly status = 503;
  constructor() {
    super('the gateway is shutting down');
    this.name = 'GatewayClosingError';
  }
}
