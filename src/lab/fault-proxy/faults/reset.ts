import type { FaultType } from '../fault-type.ts';
import { onlyParams } from '../fault-type.ts';

/** TCP reset: every affected connection, open or new, is closed with an RST (ECONNRESET). */
export const reset: FaultType<Record<string, never>> = {
  name: 'reset',
  description: 'connections are reset (RST): open ones at once, new ones right after accept',
  defaultDirections: ['upstream', 'downstream'],
  parse(params) {
    onlyParams(params, 'reset', []);
    return {};
  },
  create() {
    return {
      attach(connection) {
        connection.reset();
        return undefined;
      },
    };
  },
};
