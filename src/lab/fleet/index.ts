export { InstanceGroup, InstanceGroupError } from './instance-group.ts';
export type { GroupEvent, InstanceGroupEvents, InstanceGroupOptions, InstanceState, InstanceStatus } from './instance-group.ts';
export { ShopProcessLauncher } from './instance-process.ts';
export type { InstanceExit, InstanceLauncher, InstanceProcess, LaunchSpec } from './instance-process.ts';
export { LoadBalancer } from './load-balancer.ts';
export type { LoadBalancerEvents, LoadBalancerOptions, TargetSpec, TargetStateChange, TargetStatus } from './load-balancer.ts';
export { ALB_HEALTH_CHECK_DEFAULTS, inRotation, initialHealth, recordHealthCheck, recordRequest } from './target-health.ts';
export type { EjectionSettings, HealthCheckSettings, StateChange, TargetHealth, TargetState } from './target-health.ts';
