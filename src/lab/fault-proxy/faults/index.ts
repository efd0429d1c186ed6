import type { FaultType } from '../fault-type.ts';
import { bandwidth } from './bandwidth.ts';
import { blackhole } from './blackhole.ts';
import { connectDelay } from './connect-delay.ts';
import { latency } from './latency.ts';
import { limitData } from './limit-data.ts';
import { refuse } from './refuse.ts';
import { reset } from './reset.ts';
import { slowClose } from './slow-close.ts';

/** Every fault type, registered by name. */
export const FAULT_TYPES: ReadonlyMap<string, FaultType<unknown>> = new Map(
  ([refuse, blackhole, reset, latency, bandwidth, slowClose, limitData, connectDelay] as FaultType<unknown>[]).map((type) => [type.name, type]),
);

export { bandwidth, blackhole, connectDelay, latency, limitData, refuse, reset, slowClose };
