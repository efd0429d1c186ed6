import type { FaultType } from '../fault-type.ts';
import { numberParam, onlyParams, pause } from '../fault-type.ts';

/** Connect-delay settings. */
export interface ConnectDelayParams {
  delayMs: number;
}

/**
 * Slow accept (which Toxiproxy lacks): a new connection is dialled through to the dependency
 * only after delayMs, so the client's handshake (for PostgreSQL, until "ready for query")
 * takes that much longer, and its connect timeout can fire. Open connections are untouched.
 */
export const connectDelay: FaultType<ConnectDelayParams> = {
  name: 'connect_delay',
  description: 'new connections reach the dependency delayMs late (slow accept)',
  defaultDirections: ['upstream'],
  parse(params) {
    onlyParams(params, 'connect_delay', ['delayMs']);
    return { delayMs: numberParam(params, 'delayMs') };
  },
  create({ delayMs }) {
    return {
      attach(_connection, _directions, isNew, signal) {
        // Removing the fault dials a waiting connection through at once.
        return isNew ? { beforeConnect: () => pause(delayMs, signal) } : undefined;
      },
    };
  },
};
