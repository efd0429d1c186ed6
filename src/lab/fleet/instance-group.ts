import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { InstanceExit, InstanceLauncher, InstanceProcess } from './instance-process.ts';
import type { LoadBalancer, TargetStateChange } from './load-balancer.ts';

/** EC2 instance states, as far as the lab needs them. */
export type InstanceState = 'pending' | 'running' | 'stopped' | 'terminated';

/** One instance, as reported. */
export interface InstanceStatus {
  id: string;
  zone: string;
  state: InstanceState;
  paused: boolean;
  pid: number | null;
  address: { host: string; port: number } | null;
  tags: Record<string, string>;
  launchedAt: string;
}

/** Something that happened to the group, with its time. */
export interface GroupEvent {
  type: 'launch' | 'launch-failed' | 'stop' | 'kill' | 'pause' | 'resume' | 'exit' | 'terminate' | 'replace';
  instanceId: string;
  zone: string;
  at: string;
  detail?: string;
}

/** Options of an instance group (Auto Scaling group). */
export interface InstanceGroupOptions {
  launcher: InstanceLauncher;
  /** Targets are registered here; its health decisions drive replacement. */
  loadBalancer?: LoadBalancer;
  /** Environment for every instance (database URLs, SHOP_PATTERNS, …). */
  env: Record<string, string>;
  min?: number;
  desired?: number;
  max?: number;
  /** Zone suffixes; instances are spread over them (default a, b). */
  zones?: string[];
  /** Load balancer health is ignored this long after launch (ASG default 300 s). */
  healthCheckGracePeriodMs?: number;
  /** Extra tags on every instance. */
  tags?: Record<string, string>;
}

/** Events: 'event' for each GroupEvent. */
export interface InstanceGroupEvents {
  event: [GroupEvent];
}

interface Instance {
  id: string;
  zone: string;
  state: InstanceState;
  paused: boolean;
  process: InstanceProcess | undefined;
  /** The signal that is ending it, sent and not yet answered by its exit; a second stop must not count twice. */
  ending: 'stop' | 'kill' | undefined;
  launchedAt: number;
  tags: Record<string, string>;
}

/**
 * An operation on an unknown instance, or one the group refuses. Codes: NO_SUCH_INSTANCE (404 at the control API),
 * and, all 409: NOT_RUNNING, TERMINATED, ALREADY_PAUSED, NOT_PAUSED, ALREADY_STOPPING (a stop or kill is already
 * under way: of parallel stops one wins), INVALID_CAPACITY, LAUNCH_FAILED.
 */
export class InstanceGroupError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'InstanceGroupError';
    this.code = code;
  }
}

/**
 * The Auto Scaling group: keeps `desired` shop instances running, spread over zones. An
 * instance that stops or dies, or that the load balancer finds unhealthy after the grace
 * period, is replaced by a new one in the same zone. Like on AWS, a stopped instance stays
 * registered with the load balancer until its health checks fail: that is the detection
 * window of Article 1.
 */
export class InstanceGroup extends EventEmitter<InstanceGroupEvents> {
  readonly #options: InstanceGroupOptions;
  readonly #instances = new Map<string, Instance>();
  readonly #events: GroupEvent[] = [];
  readonly min: number;
  readonly desired: number;
  readonly max: number;
  readonly zones: string[];
  #closing = false;
  readonly #onStateChange = (change: TargetStateChange): void => this.#onTargetHealth(change);

  constructor(options: InstanceGroupOptions) {
    super();
    this.#options = options;
    this.min = options.min ?? 2;
    this.desired = options.desired ?? 2;
    this.max = options.max ?? 4;
    this.zones = options.zones ?? ['a', 'b'];
    if (!(this.min <= this.desired && this.desired <= this.max)) {
      throw new InstanceGroupError('INVALID_CAPACITY', `need min <= desired <= max, got ${this.min}/${this.desired}/${this.max}`);
    }
    options.loadBalancer?.on('state-change', this.#onStateChange);
  }

  /** Launches the desired number of instances, spread over the zones. */
  async start(): Promise<InstanceStatus[]> {
    const launches = Array.from({ length: this.desired }, (_, i) => this.#launch(this.zones[i % this.zones.length]!, 'initial capacity'));
    await Promise.all(launches);
    const failed = this.#events.filter((e) => e.type === 'launch-failed');
    if (failed.length > 0) {
      await this.close();
      throw new InstanceGroupError('LAUNCH_FAILED', `could not launch the initial capacity: ${failed.map((e) => e.detail).join('; ')}`);
    }
    return this.instances();
  }

  /** Every instance that is not terminated. */
  instances(): InstanceStatus[] {
    return [...this.#instances.values()].filter((i) => i.state !== 'terminated').map((i) => this.#status(i));
  }

  /** One instance. */
  instance(id: string): InstanceStatus {
    return this.#status(this.#get(id));
  }

  /** Launch, exit, termination and replacement events, oldest first. */
  events(): GroupEvent[] {
    return [...this.#events];
  }

  /** Stops an instance gracefully (SIGTERM: the shop shuts down); the group replaces it. */
  stop(id: string): InstanceStatus {
    const instance = this.#running(id);
    this.#refuseIfEnding(instance, 'stop');
    instance.ending = 'stop';
    this.#record('stop', instance);
    this.#signal(instance, 'SIGTERM');
    // A paused process would hold the SIGTERM until resumed: let it run to handle it.
    if (instance.paused) {
      this.#signal(instance, 'SIGCONT');
      instance.paused = false;
    }
    return this.#status(instance);
  }

  /** Kills an instance (SIGKILL: no shutdown at all); the group replaces it. */
  kill(id: string): InstanceStatus {
    const instance = this.#running(id);
    // A kill may escalate a stop that hangs, but not repeat a kill.
    if (instance.ending === 'kill') this.#refuseIfEnding(instance, 'kill');
    instance.ending = 'kill';
    this.#record('kill', instance);
    this.#signal(instance, 'SIGKILL');
    // SIGKILL ends a stopped process too: it is no longer paused, and a resume-all must not trip on it.
    instance.paused = false;
    return this.#status(instance);
  }

  /** Pauses an instance (SIGSTOP): it accepts connections but answers nothing, a hung host. */
  pause(id: string): InstanceStatus {
    const instance = this.#running(id);
    // A stopping process that is paused would hold its SIGTERM.
    this.#refuseIfEnding(instance, 'pause');
    if (instance.paused) throw new InstanceGroupError('ALREADY_PAUSED', `${id} is already paused`);
    this.#signal(instance, 'SIGSTOP');
    instance.paused = true;
    this.#record('pause', instance);
    return this.#status(instance);
  }

  /** Resumes a paused instance (SIGCONT). */
  resume(id: string): InstanceStatus {
    const instance = this.#running(id);
    this.#refuseIfEnding(instance, 'resume');
    if (!instance.paused) throw new InstanceGroupError('NOT_PAUSED', `${id} is not paused`);
    this.#signal(instance, 'SIGCONT');
    instance.paused = false;
    this.#record('resume', instance);
    return this.#status(instance);
  }

  /** Terminates an instance: it leaves the group and the load balancer; a replacement keeps capacity. */
  terminate(id: string): InstanceStatus {
    const instance = this.#get(id);
    if (instance.state === 'terminated') throw new InstanceGroupError('TERMINATED', `${id} is already terminated`);
    this.#terminate(instance, 'terminated on request');
    return this.#status(instance);
  }

  /** Stops every instance and stops replacing them. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#options.loadBalancer?.off('state-change', this.#onStateChange);
    const exits: Promise<InstanceExit>[] = [];
    for (const instance of this.#instances.values()) {
      const process = instance.process;
      if (!process) continue;
      // A paused process cannot run its SIGTERM handler: kill it outright.
      this.#signal(instance, instance.paused ? 'SIGKILL' : 'SIGTERM');
      exits.push(process.exited);
    }
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 5000).unref());
    await Promise.race([Promise.all(exits), timeout]);
    for (const instance of this.#instances.values()) this.#signal(instance, 'SIGKILL');
  }

  async #launch(zone: string, reason: string): Promise<void> {
    if (this.#closing) return;
    const id = `i-0${randomBytes(8).toString('hex')}`;
    const tags = { Project: 'chaos-lab', Zone: zone, Role: 'shop', ...this.#options.tags };
    const instance: Instance = { id, zone, state: 'pending', paused: false, process: undefined, ending: undefined, launchedAt: Date.now(), tags };
    this.#instances.set(id, instance);
    this.#record('launch', instance, reason);
    try {
      instance.process = await this.#options.launcher.launch({ instanceId: id, zone, env: this.#options.env });
    } catch (error) {
      instance.state = 'terminated';
      this.#record('launch-failed', instance, (error as Error).message);
      return;
    }
    if (this.#closing || instance.state === 'terminated') {
      // The group closed, or the instance was terminated, while it was starting.
      instance.process.signal('SIGTERM');
      return;
    }
    instance.state = 'running';
    this.#options.loadBalancer?.register({ id, zone, host: '127.0.0.1', port: instance.process.port });
    void instance.process.exited.then((exit) => this.#onExit(instance, exit));
  }

  #onExit(instance: Instance, exit: InstanceExit): void {
    instance.paused = false;
    instance.ending = undefined;
    const how = exit.signal ?? `exit ${exit.code}`;
    if (instance.state === 'terminated') return;
    instance.state = 'stopped';
    this.#record('exit', instance, how);
    if (this.#closing) return;
    // Its target may have gone unhealthy before it exited (a hung instance that was stopped):
    // no new transition will come, so leave the load balancer now.
    const target = this.#options.loadBalancer?.targets().find((t) => t.id === instance.id);
    if (target?.state === 'unhealthy') this.#retire(instance, 'stopped and unhealthy');
    // Like EC2 status checks, the group notices a stopped instance at once and replaces it;
    // the load balancer only stops sending it traffic once its own health checks fail.
    this.#record('replace', instance, `instance ${how}`);
    void this.#launch(instance.zone, `replaces ${instance.id}`);
  }

  #onTargetHealth(change: TargetStateChange): void {
    if (change.to !== 'unhealthy') return;
    const instance = this.#instances.get(change.target);
    if (!instance || instance.state === 'terminated') return;
    if (instance.state === 'stopped') {
      // Already replaced when it stopped; now the load balancer has caught up.
      this.#retire(instance, 'stopped and unhealthy');
      return;
    }
    const grace = this.#options.healthCheckGracePeriodMs ?? 300_000;
    const graceLeft = instance.launchedAt + grace - Date.now();
    if (graceLeft > 0) {
      // Within the grace period: look again when it ends (no new transition will come).
      setTimeout(() => {
        const target = this.#options.loadBalancer?.targets().find((t) => t.id === instance.id);
        if (!this.#closing && instance.state === 'running' && target?.state === 'unhealthy') this.#terminate(instance, 'unhealthy in the load balancer after the grace period');
      }, graceLeft).unref();
      return;
    }
    this.#terminate(instance, 'unhealthy in the load balancer');
  }

  /** A stopped instance leaves the group and the load balancer (its replacement is already launched). */
  #retire(instance: Instance, reason: string): void {
    instance.state = 'terminated';
    this.#options.loadBalancer?.deregister(instance.id);
    this.#record('terminate', instance, reason);
  }

  #terminate(instance: Instance, reason: string): void {
    const wasServing = instance.state === 'running' || instance.state === 'pending';
    instance.state = 'terminated';
    this.#options.loadBalancer?.deregister(instance.id);
    this.#signal(instance, instance.paused ? 'SIGKILL' : 'SIGTERM');
    // Terminated means gone: if it does not shut down in time, it is killed.
    setTimeout(() => this.#signal(instance, 'SIGKILL'), 10_000).unref();
    this.#record('terminate', instance, reason);
    if (wasServing && !this.#closing) {
      this.#record('replace', instance, reason);
      void this.#launch(instance.zone, `replaces ${instance.id}`);
    }
  }

  #signal(instance: Instance, signal: NodeJS.Signals): void {
    instance.process?.signal(signal);
  }

  #record(type: GroupEvent['type'], instance: Instance, detail?: string): void {
    const event: GroupEvent = { type, instanceId: instance.id, zone: instance.zone, at: new Date().toISOString(), ...(detail ? { detail } : {}) };
    this.#events.push(event);
    this.emit('event', event);
  }

  #get(id: string): Instance {
    const instance = this.#instances.get(id);
    if (!instance) throw new InstanceGroupError('NO_SUCH_INSTANCE', `no instance ${JSON.stringify(id)} in the group`);
    return instance;
  }

  #running(id: string): Instance {
    const instance = this.#get(id);
    if (instance.state !== 'running') throw new InstanceGroupError('NOT_RUNNING', `${id} is ${instance.state}, not running`);
    return instance;
  }

  /**
   * The state stays 'running' until the process exits, so without this mark every one of N parallel stops would
   * be answered 200 while only the first did anything.
   */
  #refuseIfEnding(instance: Instance, operation: string): void {
    if (instance.ending) {
      throw new InstanceGroupError('ALREADY_STOPPING', `cannot ${operation} ${instance.id}: a ${instance.ending} is already under way`);
    }
  }

  #status(instance: Instance): InstanceStatus {
    return {
      id: instance.id,
      zone: instance.zone,
      state: instance.state,
      paused: instance.paused,
      pid: instance.process?.pid ?? null,
      address: instance.process ? { host: '127.0.0.1', port: instance.process.port } : null,
      tags: { ...instance.tags },
      launchedAt: new Date(instance.launchedAt).toISOString(),
    };
  }
}
