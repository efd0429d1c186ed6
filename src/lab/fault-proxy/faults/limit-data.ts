import type { Attachment } from '../connection.ts';
import type { FaultType } from '../fault-type.ts';
import { numberParam, onlyParams } from '../fault-type.ts';

/** Limit-data settings. */
export interface LimitDataParams {
  bytes: number;
}

/**
 * Limit data: once `bytes` have passed in a direction (counted from when the fault reached
 * the connection), the connection is closed, like a link that dies mid-transfer.
 */
export const limitData: FaultType<LimitDataParams> = {
  name: 'limit_data',
  description: 'the connection is closed after `bytes` have passed',
  defaultDirections: ['downstream'],
  parse(params) {
    onlyParams(params, 'limit_data', ['bytes']);
    return { bytes: numberParam(params, 'bytes', undefined, { max: Number.MAX_SAFE_INTEGER }) };
  },
  create({ bytes }) {
    return {
      attach(connection, directions): Attachment {
        const stages: Attachment['stages'] = {};
        for (const direction of directions) {
          let passed = 0;
          stages[direction] = (chunk) => {
            const allowed = bytes - passed;
            passed += chunk.length;
            if (allowed >= chunk.length) return chunk;
            // Deliver what is allowed, then close once it has been written.
            setImmediate(() => connection.close());
            return allowed > 0 ? chunk.subarray(0, allowed) : undefined;
          };
        }
        return { stages };
      },
    };
  },
};
