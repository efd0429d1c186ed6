// The live dashboard: a feed of a lab's traffic, map and events, served as Server-Sent Events
// to a static page (src/dashboard/page/), under `up` (it may act), `run` and `suite` (read-only).
export type * from './protocol.ts';
export { runHello, suiteHello, upHello } from './hello.ts';
export { emptyMap, readLabMap, type MappableLab } from './lab-map.ts';
export { HISTORY_LOGS, HISTORY_SECONDS, LiveFeed, type FeedEvent, type FeedListener, type LiveFeedOptions } from './live-feed.ts';
export { DASHBOARD_AUTH, registerDashboardRoutes } from './routes.ts';
export { startRunDashboard, type RunDashboard } from './run-dashboard.ts';
export { PING_EVERY_MS, sseText, streamFeed } from './sse.ts';
export { MAX_GAP_SECONDS, TrafficSeconds } from './traffic-seconds.ts';
