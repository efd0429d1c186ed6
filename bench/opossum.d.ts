// The small part of opossum's API the breaker benchmark uses (the package ships no types).
declare module 'opossum' {
  import type { EventEmitter } from 'node:events';

  interface CircuitBreakerOptions {
    timeout?: number | false;
    errorThresholdPercentage?: number;
    resetTimeout?: number;
    volumeThreshold?: number;
  }

  class CircuitBreaker<A extends unknown[] = unknown[], R = unknown> extends EventEmitter {
    constructor(action: (...args: A) => Promise<R>, options?: CircuitBreakerOptions);
    fire(...args: A): Promise<R>;
    open(): void;
    readonly opened: boolean;
    shutdown(): void;
  }

  export default CircuitBreaker;
}
