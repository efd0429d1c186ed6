export { PostgresCluster, ClusterError } from './postgres-cluster.ts';
export type { ClusterEvents, ClusterOptions, ClusterStatus, FailoverResult, MemberRole, MemberStatus } from './postgres-cluster.ts';
export { cloneAsStandby } from './clone-standby.ts';
