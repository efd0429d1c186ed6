import { setTimeout as sleep } from 'node:timers/promises';
import type { Attachment } from '../connection.ts';
import type { FaultType } from '../fault-type.ts';
import { numberParam, onlyParams } from '../fault-type.ts';

/** Bandwidth settings. */
export interface BandwidthParams {
  /** Kilobytes per second, per connection and direction. */
  rateKBps: number;
}

/** Bandwidth limit: each direction of each connection passes at most rateKBps. */
export const bandwidth: FaultType<BandwidthParams> = {
  name: 'bandwidth',
  description: 'each connection limited to rateKBps per direction',
  defaultDirections: ['downstream'],
  parse(params) {
    onlyParams(params, 'bandwidth', ['rateKBps']);
    return { rateKBps: numberParam(params, 'rateKBps', undefined, { min: 0.001, max: 10_000_000 }) };
  },
  create({ rateKBps }) {
    return {
      attach(_connection, directions): Attachment {
        const stages: Attachment['stages'] = {};
        for (const direction of directions) {
          // When this direction's link is next free: the per-connection state of the fault.
          let freeAt = 0;
          stages[direction] = async (chunk) => {
            const start = Math.max(Date.now(), freeAt);
            freeAt = start + (chunk.length / (rateKBps * 1024)) * 1000;
            const wait = freeAt - Date.now();
            if (wait > 0) await sleep(wait);
            return chunk;
          };
        }
        return { stages };
      },
    };
  },
};
