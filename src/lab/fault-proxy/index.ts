export { FaultProxy, FaultNotFoundError, PortInUseError } from './fault-proxy.ts';
export type {
  AddFaultResult,
  FaultProxyOptions,
  FaultRecord,
  FaultSpec,
  ProxySpec,
  ProxyStatus,
  RemovalReason,
  RemoveFaultResult,
} from './fault-proxy.ts';
export { FaultSpecError, MAX_LEASE_MS } from './fault-type.ts';
export type { FaultBehaviour, FaultType } from './fault-type.ts';
export type { Address, Attachment, Direction, Stage } from './connection.ts';
export { FAULT_TYPES } from './faults/index.ts';
export { buildFaultProxyApi } from './control-api.ts';
export { FaultProxyClient, FaultProxyApiError } from './client.ts';
export type { FaultProxyClientOptions } from './client.ts';
export { spawnFaultProxy } from './spawn.ts';
export type { FaultProxyProcess } from './spawn.ts';
