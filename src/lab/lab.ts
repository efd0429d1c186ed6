import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import pg from 'pg';
import type { BreakerRecord, StoredTransition } from '../resilience/circuit-breaker/index.ts';
import { ARTICLE_QUEUE_SETTINGS, type DeadLetter, type MessageQueue, type QueueSettings } from '../services/queue/message-queue.ts';
import { SHOP_BREAKER_NAME } from '../shop/compose.ts';
import { patternsName, resolvePatterns, type Patterns } from '../shop/patterns.ts';
import { initSchema } from '../shop/schema.ts';
import type { ClusterStatus, PostgresCluster } from './cluster/postgres-cluster.ts';
import { DatabaseProxy, type DatabaseProxyStatus } from './db-proxy/database-proxy.ts';
import { presentDependencies, wireDependencies, type DependencyContext, type DependencyStatus } from './dependencies.ts';
import type { Address } from './fault-proxy/connection.ts';
import type { ProxyStatus } from './fault-proxy/fault-proxy.ts';
import { spawnFaultProxy, type FaultProxyProcess } from './fault-proxy/spawn.ts';
import { InstanceGroup, type GroupEvent, type InstanceStatus } from './fleet/instance-group.ts';
import { ShopProcessLauncher } from './fleet/instance-process.ts';
import { LoadBalancer, type TargetStateChange, type TargetStatus } from './fleet/load-balancer.ts';
import type { EjectionSettings, HealthCheckSettings } from './fleet/target-health.ts';
import { LabDir } from './lab-dir.ts';
import { runsServicesStore, startDatabases, startFleetWithWorker, type CleanupSteps } from './lab-services.ts';
import type { RecoveryWorkerProcess, RecoveryWorkerStatus } from './recovery-worker/worker-process.ts';
import { recoveryWorkerEnv, storeUses, type LabQueueStatus, type StoreClients } from './store-clients.ts';
import { SERVICES_DATABASE, type ServicesStore } from './services-store/index.ts';
import { SHOP_DATABASE } from './standalone-shop.ts';

/** Options of a lab. */
export interface LabOptions {
  /** The folder all of the lab's state lives in (lab.json, token). */
  dir: string;
  /** Instances in the group (desired and min; max is twice that). */
  instances?: number;
  /** What every shop instance does, resolved (resolvePatterns); default: the resilient preset. */
  patterns?: Patterns;
  /**
   * Topology: the database proxy (RDS Proxy) is in the instances' path to the database (default);
   * false, they reach the cluster endpoints straight (Article 3's naive shop).
   */
  databaseProxy?: boolean;
  /**
   * Run the services store (the shared breakers' state, the read cache, the order queue, the
   * reviews table and the promo bucket: it stands for DynamoDB, SQS and S3), started beside the
   * cluster (default true). False: a lab without reviews and promo (the shop answers them 503
   * REVIEWS_NOT_CONFIGURED / PROMO_NOT_CONFIGURED), unless the patterns keep something in the
   * store (a shared breaker, a read cache, a write buffer, a stale fallback): then it runs anyway.
   */
  servicesStore?: boolean;
  /** The order queue's settings (default Article 4's: 90 s visibility, 20 s long poll, 10 receives); the profiles scale them. */
  queue?: Partial<QueueSettings>;
  /**
   * The database proxy's targets are registered when the lab starts (default true). False: they
   * start deregistered, the database "not there yet" for the instances (init-race) until
   * lab:db-proxy:register.
   */
  databaseProxyRegistered?: boolean;
  /**
   * The lab creates the shop's schema before the instances start (default true). False: only the
   * instances' initialisation creates it (init-race: what they do when it fails is the finding).
   */
  createSchema?: boolean;
  healthCheck?: Partial<HealthCheckSettings>;
  /** Load balancer: retry failed idempotent requests on another target. */
  retry?: boolean;
  /** Load balancer: passive ejection after consecutive failed requests. */
  ejection?: EjectionSettings;
  healthCheckGracePeriodMs?: number;
  /** Progress lines while starting, for whoever shows them. */
  onProgress?: (step: string) => void;
}

/** What `lab.json` holds: how other commands find a running lab. */
export interface LabInfo {
  pid: number;
  startedAt: string;
  /** What every instance does, as resolved and handed to them (SHOP_PATTERNS). */
  patterns: Patterns;
  /** Topology: the database proxy is in the instances' path. */
  databaseProxy: boolean;
  loadBalancerUrl: string;
  controlUrl: string;
  /** The fault proxy's own process (instances and servers are in the status). */
  faultProxyPid: number;
  endpoints: { writer: Address; reader: Address; proxyWriter: Address; proxyReader: Address; servicesStore?: Address };
  /** The order queue's settings, when the lab runs one (a write buffer). */
  queue?: QueueSettings;
  /** The recovery worker's PID when the lab started it (a write buffer); `status` has the current one. */
  recoveryWorkerPid?: number;
}

export type { LabQueueStatus } from './store-clients.ts';
export type { DependencyStatus } from './dependencies.ts';

/** Everything about a running lab. */
export interface LabStatus {
  info: LabInfo;
  instances: InstanceStatus[];
  targets: TargetStatus[];
  targetStateChanges: TargetStateChange[];
  groupEvents: GroupEvent[];
  database: ClusterStatus;
  databaseProxy: DatabaseProxyStatus;
  faultProxies: ProxyStatus[];
  /** The services store's server (null when the lab runs none). */
  servicesStore: { address: Address; pid: number | null; running: boolean } | null;
  /** Each dependency of the registry: its tags, its fault-proxy listener and where that leads. */
  dependencies: DependencyStatus[];
  /** The order queue, when the lab runs one (null too when the store does not answer). */
  queue: LabQueueStatus | null;
  /** The fleet's shared breaker as the services store holds it, when the patterns share one (null too when the store does not answer). */
  breaker: (BreakerRecord & { name: string }) | null;
  /** The recovery worker, when the lab runs one. */
  recoveryWorker: RecoveryWorkerStatus | null;
}

/**
 * The whole lab of Articles 1, 3, 4 and 7 on one machine: a PostgreSQL writer and reader, the
 * database proxy, the services store (a third PostgreSQL server, started beside them: the shared
 * breaker's state, the read cache, the order queue, the reviews table, the promo bucket), the
 * fault proxy in front of every dependency connection, a group of shop instances across zones,
 * the load balancer; and when the patterns buffer writes, the recovery worker that drains the
 * queue. Every part binds 127.0.0.1; every child process dies with the process that started the lab.
 *
 * Paths: instances and the worker reach every dependency of the registry (dependencies.ts)
 * through the fault proxy; the database listeners lead to the database proxy, or
 * (databaseProxy: false, Article 3's naive setup) straight to the cluster endpoints.
 */
export class Lab {
  readonly cluster: PostgresCluster;
  readonly databaseProxy: DatabaseProxy;
  readonly faultProxy: FaultProxyProcess;
  /** The services store (a shared breaker's state, the read cache, the order queue, reviews and promo live there), unless the lab was started without it. */
  readonly servicesStore: ServicesStore | undefined;
  /**
   * The lab's own client of the order queue (straight to the store, not through the fault proxy:
   * the lab observes, it is not a customer), when the patterns buffer writes: stats, dead
   * letters, redrive, stateOfKey for the audit.
   */
  readonly queue: MessageQueue | undefined;
  /** The order queue's settings (the worker's and this client's). */
  readonly queueSettings: QueueSettings;
  /** The recovery worker, when the patterns buffer writes. */
  readonly recoveryWorker: RecoveryWorkerProcess | undefined;
  readonly loadBalancer: LoadBalancer;
  readonly group: InstanceGroup;
  readonly patterns: Patterns;
  /** Topology: the database proxy is in the instances' path. */
  readonly databaseProxyInPath: boolean;
  readonly dir: string;
  info: LabInfo | undefined;
  readonly #labDir: LabDir;
  readonly #dependencies: DependencyStatus[];
  readonly #storeClients: StoreClients | undefined;

  private constructor(parts: {
    cluster: PostgresCluster;
    databaseProxy: DatabaseProxy;
    faultProxy: FaultProxyProcess;
    servicesStore: ServicesStore | undefined;
    loadBalancer: LoadBalancer;
    group: InstanceGroup;
    patterns: Patterns;
    databaseProxyInPath: boolean;
    dependencies: DependencyStatus[];
    labDir: LabDir;
    queueSettings: QueueSettings;
    recoveryWorker: RecoveryWorkerProcess | undefined;
    storeClients: StoreClients | undefined;
  }) {
    this.cluster = parts.cluster;
    this.databaseProxy = parts.databaseProxy;
    this.faultProxy = parts.faultProxy;
    this.servicesStore = parts.servicesStore;
    this.loadBalancer = parts.loadBalancer;
    this.group = parts.group;
    this.patterns = parts.patterns;
    this.databaseProxyInPath = parts.databaseProxyInPath;
    this.#dependencies = parts.dependencies;
    this.#labDir = parts.labDir;
    this.dir = parts.labDir.path;
    this.queue = parts.storeClients?.queue;
    this.queueSettings = parts.queueSettings;
    this.recoveryWorker = parts.recoveryWorker;
    this.#storeClients = parts.storeClients;
  }

  /**
   * The dependencies this lab has (the registry's, less the services store's when it runs none,
   * less the cache and the queue when the patterns do not use them): what a fault or a
   * lab:dependency target can name here.
   */
  get dependencies(): readonly DependencyStatus[] {
    return this.#dependencies;
  }

  /** Starts every part (the cluster and the services store side by side, then the rest in order) and returns once the fleet answers through the load balancer. */
  static async start(options: LabOptions): Promise<Lab> {
    const progress = options.onProgress ?? (() => {});
    const patterns = options.patterns ?? resolvePatterns('resilient');
    const databaseProxyInPath = options.databaseProxy ?? true;
    const uses = storeUses(patterns);
    const queueSettings: QueueSettings = { ...ARTICLE_QUEUE_SETTINGS, ...options.queue };
    // First, before anything starts: a second lab over this folder is refused here.
    const labDir = await LabDir.claim(resolve(options.dir));
    const cleanup: CleanupSteps = [() => labDir.release(LAB_FILES)];
    try {
      const { cluster, servicesStore } = await startDatabases({ servicesStore: runsServicesStore(options.servicesStore, uses), cleanup, progress });
      const databaseProxy = new DatabaseProxy(cluster);
      await databaseProxy.listen();
      cleanup.push(() => databaseProxy.close());
      // Before any instance connects: the database is "not there yet" behind the proxy.
      if (options.databaseProxyRegistered === false) databaseProxy.deregister();
      if (options.createSchema ?? true) {
        progress('creating the schema');
        await createSchema(cluster.writerEndpoint, cluster.password);
      }

      progress('starting the fault proxy');
      const context: DependencyContext = {
        cluster: { writerEndpoint: cluster.writerEndpoint, readerEndpoint: cluster.readerEndpoint, password: cluster.password },
        databaseProxy: { writerEndpoint: databaseProxy.writerEndpoint, readerEndpoint: databaseProxy.readerEndpoint },
        databaseProxyInPath,
        database: SHOP_DATABASE,
        servicesStore: servicesStore && { endpoint: servicesStore.endpoint, password: servicesStore.server.password, database: SERVICES_DATABASE },
        readCache: uses.readCache,
        writeBuffer: uses.writeBuffer,
      };
      const present = presentDependencies(context);
      const faultProxy = await spawnFaultProxy(present.map((d) => ({ name: d.name, upstream: d.upstream(context) })));
      cleanup.push(() => faultProxy.stop());
      const wired = wireDependencies(present, (name) => faultProxy.proxies.find((p) => p.name === name)!.listen, context);
      const dependencies = wired.statuses;
      const env: Record<string, string> = { SHOP_PATTERNS: JSON.stringify(patterns), ...wired.env };

      const loadBalancer = new LoadBalancer({ healthCheck: options.healthCheck, retry: options.retry, ejection: options.ejection });
      await loadBalancer.listen();
      cleanup.push(() => loadBalancer.close());
      const instances = options.instances ?? 2;
      progress(`launching ${instances} shop instances (patterns ${patternsName(patterns)}${databaseProxyInPath ? '' : ', no database proxy'})`);
      const group = new InstanceGroup({
        launcher: new ShopProcessLauncher(),
        loadBalancer,
        env,
        min: instances,
        desired: instances,
        max: instances * 2,
        healthCheckGracePeriodMs: options.healthCheckGracePeriodMs,
      });
      cleanup.push(() => group.close());
      const { storeClients, recoveryWorker } = await startFleetWithWorker({
        startFleet: () => group.start(),
        store: servicesStore,
        uses,
        queueSettings,
        workerEnv: () => recoveryWorkerEnv(env, patterns, queueSettings),
        cleanup,
        progress,
      });
      return new Lab({
        cluster,
        databaseProxy,
        faultProxy,
        servicesStore,
        loadBalancer,
        group,
        patterns,
        databaseProxyInPath,
        dependencies,
        labDir,
        queueSettings,
        recoveryWorker,
        storeClients,
      });
    } catch (error) {
      for (const step of cleanup.reverse()) await step().catch(() => {});
      throw error;
    }
  }

  /** Writes lab.json and the control token (readable by this user only) into the lab's folder. */
  async publish(controlUrl: string, token: string): Promise<LabInfo> {
    const info: LabInfo = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      patterns: this.patterns,
      databaseProxy: this.databaseProxyInPath,
      loadBalancerUrl: this.loadBalancer.url,
      controlUrl,
      faultProxyPid: this.faultProxy.pid,
      endpoints: {
        writer: this.cluster.writerEndpoint,
        reader: this.cluster.readerEndpoint,
        proxyWriter: this.databaseProxy.writerEndpoint,
        proxyReader: this.databaseProxy.readerEndpoint,
        ...(this.servicesStore ? { servicesStore: this.servicesStore.endpoint } : {}),
      },
      ...(this.queue ? { queue: this.queueSettings } : {}),
      ...(this.recoveryWorker?.pid !== undefined ? { recoveryWorkerPid: this.recoveryWorker.pid } : {}),
    };
    await this.#labDir.writePrivate('token', token);
    await this.#labDir.writePrivate('lab.json', `${JSON.stringify(info, null, 2)}\n`);
    this.info = info;
    return info;
  }

  async status(): Promise<LabStatus> {
    if (!this.info) throw new Error('lab not published yet');
    return {
      info: this.info,
      instances: this.group.instances(),
      targets: this.loadBalancer.targets(),
      targetStateChanges: this.loadBalancer.stateChanges(),
      groupEvents: this.group.events(),
      database: await this.cluster.status(),
      databaseProxy: this.databaseProxy.status(),
      // Partial status rather than none when the fault proxy does not answer.
      faultProxies: await this.faultProxy.client.listProxies().catch(() => []),
      servicesStore: this.servicesStore
        ? { address: this.servicesStore.endpoint, pid: this.servicesStore.server.pid ?? null, running: this.servicesStore.server.running }
        : null,
      dependencies: this.#dependencies,
      queue: (await this.queueStatus().catch(() => undefined)) ?? null,
      breaker: await this.breakerState()
        .then((record) => (record ? { name: SHOP_BREAKER_NAME, ...record } : null))
        .catch(() => null),
      recoveryWorker: this.recoveryWorker?.status() ?? null,
    };
  }

  /** The order queue's name, settings and stats, or undefined when the lab runs none. */
  async queueStatus(): Promise<LabQueueStatus | undefined> {
    return this.#storeClients?.queueStatus();
  }

  /** The dead letters (oldest first, at most `limit`), or undefined when the lab runs no queue. */
  async deadLetters(limit = 100): Promise<DeadLetter[] | undefined> {
    return this.#storeClients?.deadLetters(limit);
  }

  /**
   * The fleet's shared breaker as the services store holds it (read straight from the store, not
   * through the fault proxy), or undefined when the patterns share none.
   */
  async breakerState(): Promise<BreakerRecord | undefined> {
    return this.#storeClients?.breakerState();
  }

  /** The fleet's shared breaker's transitions (the store's history, with its times), or undefined when the patterns share none. */
  async breakerTransitions(): Promise<StoredTransition[] | undefined> {
    return this.#storeClients?.breakerTransitions();
  }

  /** Stops everything, in reverse order, and removes lab.json and the token. */
  async close(): Promise<void> {
    // Every step runs, whatever the one before did; the first failure is reported at the end.
    const steps = [
      () => this.group.close(),
      async () => this.recoveryWorker?.stop(),
      () => this.loadBalancer.close(),
      () => this.faultProxy.stop(),
      async () => this.#storeClients?.close(),
      async () => this.servicesStore?.close(),
      () => this.databaseProxy.close(),
      () => this.cluster.close(),
      () => this.#labDir.release(LAB_FILES),
    ];
    let failure: unknown;
    for (const step of steps) {
      try {
        await step();
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure) throw failure;
  }
}

/** The files a running lab keeps in its folder (besides its lock). */
const LAB_FILES = ['lab.json', 'token'];

/** A fresh random control token. */
export function newToken(): string {
  return randomBytes(24).toString('hex');
}

async function createSchema(writer: Address, password: string): Promise<void> {
  const client = new pg.Client({ ...writer, user: 'postgres', password, database: SHOP_DATABASE });
  await client.connect();
  try {
    await initSchema(client);
  } finally {
    await client.end();
  }
}
