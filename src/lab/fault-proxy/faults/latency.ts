import { setTimeout as sleep } from 'node:timers/promises';
import type { Attachment } from '../connection.ts';
import type { FaultType } from '../fault-type.ts';
import { numberParam, onlyParams } from '../fault-type.ts';

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
    return { latencyMs: numberParam(params, 'latencyMs'), jitterMs: numberParam(params, 'jitterMs', 0) };
  },
  create({ latencyMs, jitterMs }) {
    return {
      attach(_connection, directions): Attachment {
        const stages: Attachment['stages'] = {};
        for (const direction of directions) {
          stages[direction] = async (chunk, arrived) => {
            const delay = Math.max(0, latencyMs + (Math.random() * 2 - 1) * jitterMs);
            const wait = arrived + delay - Date.now();
            if (wait > 0) await sleep(wait);
            return chunk;
          };
        }
        return { stages };
      },
    };
  },
};
