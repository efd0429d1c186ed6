import type { Attachment } from '../connection.ts';
import type { FaultType } from '../fault-type.ts';
import { onlyParams, released } from '../fault-type.ts';

/**
 * Blackhole: connections are accepted (or stay open) but no byte gets through, so clients
 * hang until their own timeout: the failure that exhausts worker pools. New connections are
 * never dialled through to the dependency. When the fault is removed, what was held flows on,
 * as TCP retransmission delivers it when a partition heals.
 */
export const blackhole: FaultType<Record<string, never>> = {
  name: 'blackhole',
  description: 'connections accepted or kept open, but no byte gets through until removed',
  defaultDirections: ['upstream', 'downstream'],
  parse(params) {
    onlyParams(params, 'blackhole', []);
    return {};
  },
  create() {
    return {
      attach(_connection, directions, isNew, signal): Attachment {
        // One promise per attachment, settled when the fault is detached.
        const held = released(signal);
        const hold = async (chunk: Buffer): Promise<Buffer> => {
          await held;
          return chunk;
        };
        const attachment: Attachment = { stages: {} };
        for (const direction of directions) attachment.stages![direction] = hold;
        if (isNew && directions.includes('upstream')) attachment.beforeConnect = () => held;
        return attachment;
      },
    };
  },
};
