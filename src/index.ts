// chaos-lab's library API: what the chaos-lab command, the tests and the later lab are built on.
export * from './shop/index.ts';
export * from './lab/postgres/index.ts';
export { processGuard, ProcessGuard } from './lab/process/index.ts';
export { freePort } from './lab/net/free-port.ts';
export { startStandaloneShop, createDatabase, SHOP_DATABASE } from './lab/standalone-shop.ts';
export type { StandaloneShop, StandaloneShopOptions } from './lab/standalone-shop.ts';
export { retry, exponentialDelays, sleep } from './resilience/index.ts';
export type { RetryOptions } from './resilience/index.ts';
export * from './lab/cluster/index.ts';
export * from './lab/db-proxy/index.ts';
export * from './lab/fault-proxy/index.ts';
export { TcpForwarder, dial, routeTo } from './lab/net/tcp-forwarder.ts';
export type { Dialer, Dialled } from './lab/net/tcp-forwarder.ts';
export { Coalescer } from './resilience/coalesce.ts';
export * from './lab/fleet/index.ts';
export { Lab, DEPENDENCIES, newToken } from './lab/lab.ts';
export type { LabInfo, LabOptions, LabStatus } from './lab/lab.ts';
export { buildControlApi } from './lab/control-api.ts';
