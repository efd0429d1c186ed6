import type { Attachment } from '../connection.ts';
import type { FaultType } from '../fault-type.ts';
import { numberParam, onlyParams, pause } from '../fault-type.ts';

/** Slow-close settings. */
export interface SlowCloseParams {
  delayMs: number;
}

/** Slow close: when one side closes, the close reaches the other side delayMs later. */
export const slowClose: FaultType<SlowCloseParams> = {
  name: 'slow_close',
  description: 'a close (FIN) is passed on delayMs late',
  defaultDirections: ['downstream'],
  parse(params) {
    onlyParams(params, 'slow_close', ['delayMs']);
    return { delayMs: numberParam(params, 'delayMs') };
  },
  create({ delayMs }) {
    return {
      attach(_connection, directions, _isNew, signal): Attachment {
        const beforeEnd: Attachment['beforeEnd'] = {};
        // Removing the fault passes a held close on at once.
        for (const direction of directions) beforeEnd[direction] = () => pause(delayMs, signal);
        return { beforeEnd };
      },
    };
  },
};
