export { DatabaseProxy } from './database-proxy.ts';
export type { DatabaseProxyOptions, DatabaseProxyStatus, ProxyTargets, RegistrationResult } from './database-proxy.ts';
