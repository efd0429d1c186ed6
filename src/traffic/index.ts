export { classifyRead, classifyWrite } from './outcome.ts';
export type { ReadOutcome, WriteOutcome } from './outcome.ts';
export { runTraffic } from './traffic-generator.ts';
export type { TrafficOptions, TrafficResult, TrafficSecond, TrafficTotals } from './traffic-generator.ts';
export { runProbe, formatProbe, detectionWindow } from './probe.ts';
export type { ProbeOptions, ProbeResult } from './probe.ts';
