import type { Attachment } from '../connection.ts';
import type { FaultType } from '../fault-type.ts';
import { numberParam, onlyParams, pause } from '../fault-type.ts';

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
    // At 0.1 KB/s one 64 KiB read (the most a socket read brings) waits 640 s: within the
    // longest lease (15 min). A slower rate would hold one chunk past the fault's life.
    return { rateKBps: numberParam(params, 'rateKBps', undefined, { min: 0.1, max: 10_000_000 }) };
  },
  create({ rateKBps }) {
    return {
      attach(_connection, directions, _isNew, signal): Attachment {
        const stages: Attachment['stages'] = {};
        for (const direction of directions) {
          // When this direction's link is next free: the per-connection state of the fault.
          let freeAt = 0;
          stages[direction] = async (chunk) => {
            if (signal.aborted) return chunk; // removed while this chunk was queued: no more pacing
            const start = Math.max(Date.now(), freeAt);
            freeAt = start + (chunk.length / (rateKBps * 1024)) * 1000;
            // Cut short when the fault is removed: the chunk then goes on at once.
            await pause(freeAt - Date.now(), signal);
            return chunk;
          };
        }
        return { stages };
      },
    };
  },
};
