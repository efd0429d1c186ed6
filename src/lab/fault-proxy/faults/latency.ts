import type { Attachment } from '../connection.ts';
import type { FaultType } from '../fault-type.ts';
import { FaultSpecError, MAX_LEASE_MS, numberParam, onlyParams, pause } from '../fault-type.ts';

/** Latency settings: every chunk is delayed by latencyMs ± jitterMs. */
export interface LatencyParams {
  latencyMs: number;
  jitterMs: number;
}

/**
 * Latency with jitter, per chunk. Each chunk is released at its arrival time plus its delay,
 * in order: chunks in flight overlap instead of adding up, as on a slow link.
 */
export const latency: FaultType<LatencyParams> = {
  name: 'latency',
  description: 'each chunk delayed by latencyMs ± jitterMs',
  defaultDirections: ['downstream'],
  parse(params) {
    onlyParams(params, 'latency', ['latencyMs', 'jitterMs']);
    const latencyMs = numberParam(params, 'latencyMs');
    const jitterMs = numberParam(params, 'jitterMs', 0);
    // The longest wait of one chunk; a chunk must never be held past its fault's longest lease.
    if (latencyMs + jitterMs > MAX_LEASE_MS) {
      throw new FaultSpecError(`latencyMs + jitterMs must be at most ${MAX_LEASE_MS} (the longest lease), got ${latencyMs} + ${jitterMs} = ${latencyMs + jitterMs}`);
    }
    return { latencyMs, jitterMs };
  },
  create({ latencyMs, jitterMs }) {
    return {
      attach(_connection, directions, _isNew, signal): Attachment {
        const stages: Attachment['stages'] = {};
        for (const direction of directions) {
          stages[direction] = async (chunk, arrived) => {
            const delay = Math.max(0, latencyMs + (Math.random() * 2 - 1) * jitterMs);
            // Cut short when the fault is removed: the chunk then goes on at once.
            await pause(arrived + delay - Date.now(), signal);
            return chunk;
          };
        }
        return { stages };
      },
    };
  },
};
