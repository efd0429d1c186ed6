// The lab's dependencies: everything a shop instance reaches over the network, one entry each.
// The fault proxy gets a listener per entry, chaos targets of type lab:dependency are these
// entries (tags Kind and Role), the control API accepts faults on these names, `status` lists
// them, and an instance is told where each is through its environment variable. Adding a
// dependency is one entry here. The services store has an entry per service it stands for (the
// breaker's table, the read cache, the order queue, Article 7's reviews table and promo bucket),
// each its own listener, so an experiment can cut one without the others (the article's
// `scope = dynamodb` / `scope = s3`).
import type { Address } from './fault-proxy/connection.ts';

/** What a dependency's upstream and instance address are computed from: the lab's parts and topology. */
export interface DependencyContext {
  /** The cluster's endpoints (Aurora's writer and reader endpoints) and its password. */
  cluster: { writerEndpoint: Address; readerEndpoint: Address; password: string };
  /** The database proxy's endpoints (RDS Proxy). */
  databaseProxy: { writerEndpoint: Address; readerEndpoint: Address };
  /** Lab topology: the database proxy is in the instances' path (else they reach the cluster endpoints straight). */
  databaseProxyInPath: boolean;
  /** The database the shop's tables live in. */
  database: string;
  /**
   * The services store (a PostgreSQL server of its own, standing for DynamoDB, SQS and S3), when
   * this lab runs one (every lab does, unless started with servicesStore: false).
   */
  servicesStore?: { endpoint: Address; password: string; database: string };
  /** The instances' patterns use the read cache in the services store (readCache not off, or a stale fallback). */
  readCache?: boolean;
  /** The instances' patterns buffer writes in the services store's order queue (writeBuffer not off). */
  writeBuffer?: boolean;
}

/** One dependency of the shop. */
export interface LabDependency {
  /** Its name: the fault proxy's listener, the chaos target's resource id, `fault add <name>`. */
  name: string;
  /** What it is (target tag Kind). */
  kind: 'database' | 'key-value-store' | 'queue' | 'object-store';
  /** What it does for the shop (target tag Role). */
  role: 'writer' | 'reader' | 'breaker-state' | 'read-cache' | 'write-buffer' | 'reviews' | 'promo';
  /** Whether this lab has it (default: always). A dependency absent gets no listener, no variable, no status line. */
  present?(context: DependencyContext): boolean;
  /** Where its fault-proxy listener relays to, in this lab's topology. */
  upstream(context: DependencyContext): Address;
  /** The environment variable that tells an instance where it is, and its value given the listener's address. */
  instanceEnv: { name: string; value(listen: Address, context: DependencyContext): string };
}

// The password travels in the instances' environment, which only this user can read (/proc/<pid>/environ).
const databaseUrl = (listen: Address, context: DependencyContext): string =>
  `postgresql://postgres:${encodeURIComponent(context.cluster.password)}@${listen.host}:${listen.port}/${context.database}`;

/** Every dependency of the lab, in the order listeners are made and listed. */
export const DEPENDENCIES: readonly LabDependency[] = [
  {
    name: 'db-writer',
    kind: 'database',
    role: 'writer',
    upstream: (c) => (c.databaseProxyInPath ? c.databaseProxy.writerEndpoint : c.cluster.writerEndpoint),
    instanceEnv: { name: 'DB_WRITER_URL', value: databaseUrl },
  },
  {
    name: 'db-reader',
    kind: 'database',
    role: 'reader',
    upstream: (c) => (c.databaseProxyInPath ? c.databaseProxy.readerEndpoint : c.cluster.readerEndpoint),
    instanceEnv: { name: 'DB_READER_URL', value: databaseUrl },
  },
  {
    // Where a shared circuit breaker keeps its state. Its own listener, so that an experiment can
    // cut the store without touching the database (the breaker then falls back to local state).
    name: 'services-store',
    kind: 'key-value-store',
    role: 'breaker-state',
    present: (c) => c.servicesStore !== undefined,
    upstream: (c) => servicesStoreOf(c).endpoint,
    instanceEnv: { name: 'SERVICES_STORE_URL', value: storeUrl },
  },
  {
    // The read cache (DynamoDB in Article 4), when the patterns read through it or fall back to
    // its last good reviews and banner (Article 7's stale mode).
    name: 'read-cache',
    kind: 'key-value-store',
    role: 'read-cache',
    present: (c) => c.servicesStore !== undefined && c.readCache === true,
    upstream: (c) => servicesStoreOf(c).endpoint,
    instanceEnv: { name: 'READ_CACHE_URL', value: storeUrl },
  },
  {
    // The order queue (SQS in the article), when the patterns buffer writes: the instances send
    // to it and the recovery worker drains it, both through this listener.
    name: 'order-queue',
    kind: 'queue',
    role: 'write-buffer',
    present: (c) => c.servicesStore !== undefined && c.writeBuffer === true,
    upstream: (c) => servicesStoreOf(c).endpoint,
    instanceEnv: { name: 'ORDER_QUEUE_URL', value: storeUrl },
  },
  {
    // Article 7's reviews table (DynamoDB): a secondary dependency, whatever the patterns, so
    // that cutting it shows what losing one feature does to the rest of the shop.
    name: 'reviews',
    kind: 'key-value-store',
    role: 'reviews',
    present: (c) => c.servicesStore !== undefined,
    upstream: (c) => servicesStoreOf(c).endpoint,
    instanceEnv: { name: 'REVIEWS_URL', value: storeUrl },
  },
  {
    // Article 7's promo banner (an S3 object): the other secondary dependency, cut on its own.
    name: 'promo',
    kind: 'object-store',
    role: 'promo',
    present: (c) => c.servicesStore !== undefined,
    upstream: (c) => servicesStoreOf(c).endpoint,
    instanceEnv: { name: 'PROMO_URL', value: storeUrl },
  },
];

function storeUrl(listen: Address, context: DependencyContext): string {
  const store = servicesStoreOf(context);
  return `postgresql://postgres:${encodeURIComponent(store.password)}@${listen.host}:${listen.port}/${store.database}`;
}

function servicesStoreOf(context: DependencyContext): NonNullable<DependencyContext['servicesStore']> {
  if (!context.servicesStore) throw new Error('this lab runs no services store');
  return context.servicesStore;
}

/** The dependencies this lab has, in registry order (the services store's only when it runs one; the cache and the queue only when the patterns use them). */
export function presentDependencies(context: DependencyContext): LabDependency[] {
  return DEPENDENCIES.filter((d) => d.present?.(context) ?? true);
}

/** One dependency as `status` shows it. */
export interface DependencyStatus {
  name: string;
  kind: LabDependency['kind'];
  role: LabDependency['role'];
  listen: Address;
  upstream: Address;
  /** The environment variable that tells an instance where it is. */
  instanceEnv: string;
}

/**
 * The present dependencies wired to their fault-proxy listeners (`listenOf` by name): each as
 * `status` shows it, and the instances' environment that points them at the listeners.
 */
export function wireDependencies(
  present: readonly LabDependency[],
  listenOf: (name: string) => Address,
  context: DependencyContext,
): { statuses: DependencyStatus[]; env: Record<string, string> } {
  const env: Record<string, string> = {};
  const statuses = present.map((d): DependencyStatus => {
    const listen = listenOf(d.name);
    env[d.instanceEnv.name] = d.instanceEnv.value(listen, context);
    return { name: d.name, kind: d.kind, role: d.role, listen, upstream: d.upstream(context), instanceEnv: d.instanceEnv.name };
  });
  return { statuses, env };
}

/** The dependencies' names, for validation and help texts. */
export const DEPENDENCY_NAMES: readonly string[] = DEPENDENCIES.map((d) => d.name);

/** The dependency called `name`, or undefined. */
export function dependencyNamed(name: string): LabDependency | undefined {
  return DEPENDENCIES.find((d) => d.name === name);
}

/** A dependency as a chaos target (resourceType lab:dependency): its name, and tags Kind and Role. */
export function dependencyTarget(dependency: LabDependency): { id: string; tags: Record<string, string> } {
  return { id: dependency.name, tags: { Kind: dependency.kind, Role: dependency.role } };
}
