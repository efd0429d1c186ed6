export { classifyRead, classifyWrite } from './outcome.ts';
export type { ReadOutcome, WriteOutcome } from './outcome.ts';
export { MAX_IN_FLIGHT_REQUESTS, runTraffic } from './traffic-generator.ts';
export type { GeneratorStats, TrafficOptions, TrafficResult, TrafficSecond, TrafficTotals } from './traffic-generator.ts';
export { CATCH_UP_WINDOW_MS, SendSchedule, decide } from './send-schedule.ts';
export type { DueRequest, RequestKind, SendDecision } from './send-schedule.ts';
export { runProbe, formatProbe, detectionWindow } from './probe.ts';
export type { ProbeOptions, ProbeResult } from './probe.ts';
