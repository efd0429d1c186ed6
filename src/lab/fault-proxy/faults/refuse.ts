import type { FaultType } from '../fault-type.ts';
import { onlyParams } from '../fault-type.ts';

/**
 * Connection refused: the listener stops listening, so new connections get ECONNREFUSED at
 * once, and open connections are reset, as when the dependency's port closes. With toxicity
 * below 1 the listener stays up and the chosen new connections are reset right after accept.
 */
export const refuse: FaultType<Record<string, never>> = {
  name: 'refuse',
  description: 'new connections are refused (ECONNREFUSED), open ones reset',
  defaultDirections: ['upstream', 'downstream'],
  parse(params) {
    onlyParams(params, 'refuse', []);
    return {};
  },
  create() {
    return {
      refusesConnections: true,
      attach(connection) {
        connection.reset();
        return undefined;
      },
    };
  },
};
