import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import pg from 'pg';
import type { StrategyName } from '../shop/database/shop-database.ts';
import { initSchema } from '../shop/schema.ts';
import { PostgresCluster, type ClusterStatus } from './cluster/postgres-cluster.ts';
import { DatabaseProxy, type DatabaseProxyStatus } from './db-proxy/database-proxy.ts';
import type { Address } from './fault-proxy/connection.ts';
import type { ProxyStatus } from './fault-proxy/fault-proxy.ts';
import { spawnFaultProxy, type FaultProxyProcess } from './fault-proxy/spawn.ts';
import { InstanceGroup, type GroupEvent, type InstanceStatus } from './fleet/instance-group.ts';
import { ShopProcessLauncher } from './fleet/instance-process.ts';
import { LoadBalancer, type TargetStateChange, type TargetStatus } from './fleet/load-balancer.ts';
import type { EjectionSettings, HealthCheckSettings } from './fleet/target-health.ts';
import { LabDir } from './lab-dir.ts';
import { SHOP_DATABASE } from './standalone-shop.ts';

/** Options of a lab. */
export interface LabOptions {
  /** The folder all of the lab's state lives in (lab.json, token). */
  dir: string;
  /** Instances in the group (desired and min; max is twice that). */
  instances?: number;
  strategy?: StrategyName;
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
  strategy: StrategyName;
  loadBalancerUrl: string;
  controlUrl: string;
  /** The fault proxy's own process (instances and servers are in the status). */
  faultProxyPid: number;
  endpoints: { writer: Address; reader: Address; proxyWriter: Address; proxyReader: Address };
}

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
}

/** The dependencies shop instances reach through the fault proxy. */
export const DEPENDENCIES = ['db-writer', 'db-reader'] as const;

/**
 * The whole lab of Articles 1 and 3 on one machine: a PostgreSQL writer and reader, the
 * database proxy, the fault proxy in front of every database connection, a group of shop
 * instances across zones, and the load balancer. Every part binds 127.0.0.1; every child
 * process dies with the process that started the lab.
 *
 * Paths: naive instances go through the fault proxy straight to the cluster endpoints;
 * resilient ones through the fault proxy to the database proxy.
 */
export class Lab {
  readonly cluster: PostgresCluster;
  readonly databaseProxy: DatabaseProxy;
  readonly faultProxy: FaultProxyProcess;
  readonly loadBalancer: LoadBalancer;
  readonly group: InstanceGroup;
  readonly strategy: StrategyName;
  readonly dir: string;
  info: LabInfo | undefined;
  readonly #labDir: LabDir;

  private constructor(parts: {
    cluster: PostgresCluster;
    databaseProxy: DatabaseProxy;
    faultProxy: FaultProxyProcess;
    loadBalancer: LoadBalancer;
    group: InstanceGroup;
    strategy: StrategyName;
    labDir: LabDir;
  }) {
    this.cluster = parts.cluster;
    this.databaseProxy = parts.databaseProxy;
    this.faultProxy = parts.faultProxy;
    this.loadBalancer = parts.loadBalancer;
    this.group = parts.group;
    this.strategy = parts.strategy;
    this.#labDir = parts.labDir;
    this.dir = parts.labDir.path;
  }

  /** Starts every part, in order, and returns once the fleet answers through the load balancer. */
  static async start(options: LabOptions): Promise<Lab> {
    const progress = options.onProgress ?? (() => {});
    const strategy = options.strategy ?? 'resilient';
    // First, before anything starts: a second lab over this folder is refused here.
    const labDir = await LabDir.claim(resolve(options.dir));
    const cleanup: Array<() => Promise<void>> = [() => labDir.release(LAB_FILES)];
    try {
      progress('starting the PostgreSQL writer and reader');
      const cluster = await PostgresCluster.start({ databases: [SHOP_DATABASE] });
      cleanup.push(() => cluster.close());
      const databaseProxy = new DatabaseProxy(cluster);
      await databaseProxy.listen();
      cleanup.push(() => databaseProxy.close());
      progress('creating the schema');
      await createSchema(cluster.writerEndpoint, cluster.password);

      progress('starting the fault proxy');
      const upstream = strategy === 'resilient'
        ? { writer: databaseProxy.writerEndpoint, reader: databaseProxy.readerEndpoint }
        : { writer: cluster.writerEndpoint, reader: cluster.readerEndpoint };
      const faultProxy = await spawnFaultProxy([
        { name: 'db-writer', upstream: upstream.writer },
        { name: 'db-reader', upstream: upstream.reader },
      ]);
      cleanup.push(() => faultProxy.stop());
      const listen = (name: string): Address => faultProxy.proxies.find((p) => p.name === name)!.listen;
      // The password travels in the instances' environment, which only this user can read (/proc/<pid>/environ).
      const url = (address: Address): string => `postgresql://postgres:${encodeURIComponent(cluster.password)}@${address.host}:${address.port}/${SHOP_DATABASE}`;

      const loadBalancer = new LoadBalancer({ healthCheck: options.healthCheck, retry: options.retry, ejection: options.ejection });
      await loadBalancer.listen();
      cleanup.push(() => loadBalancer.close());
      const instances = options.instances ?? 2;
      progress(`launching ${instances} shop instances (${strategy})`);
      const group = new InstanceGroup({
        launcher: new ShopProcessLauncher(),
        loadBalancer,
        env: { DB_WRITER_URL: url(listen('db-writer')), DB_READER_URL: url(listen('db-reader')), STRATEGY: strategy },
        min: instances,
        desired: instances,
        max: instances * 2,
        healthCheckGracePeriodMs: options.healthCheckGracePeriodMs,
      });
      cleanup.push(() => group.close());
      await group.start();
      return new Lab({ cluster, databaseProxy, faultProxy, loadBalancer, group, strategy, labDir });
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
      strategy: this.strategy,
      loadBalancerUrl: this.loadBalancer.url,
      controlUrl,
      faultProxyPid: this.faultProxy.pid,
      endpoints: {
        writer: this.cluster.writerEndpoint,
        reader: this.cluster.readerEndpoint,
        proxyWriter: this.databaseProxy.writerEndpoint,
        proxyReader: this.databaseProxy.readerEndpoint,
      },
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
    };
  }

  /** Stops everything, in reverse order, and removes lab.json and the token. */
  async close(): Promise<void> {
    // Every step runs, whatever the one before did; the first failure is reported at the end.
    const steps = [
      () => this.group.close(),
      () => this.loadBalancer.close(),
      () => this.faultProxy.stop(),
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
