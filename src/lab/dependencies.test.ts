// The dependency registry: one entry per dependency gives its listener's upstream (by the lab's
// topology), its target tags and the variable that tells an instance where it is.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEPENDENCIES, DEPENDENCY_NAMES, dependencyNamed, dependencyTarget, presentDependencies, type DependencyContext } from './dependencies.ts';

const context = (databaseProxyInPath: boolean, withStore = false, uses: { readCache?: boolean; writeBuffer?: boolean } = {}): DependencyContext => ({
  cluster: { writerEndpoint: { host: '127.0.0.1', port: 1001 }, readerEndpoint: { host: '127.0.0.1', port: 1002 }, password: 'p@ss word' },
  databaseProxy: { writerEndpoint: { host: '127.0.0.1', port: 2001 }, readerEndpoint: { host: '127.0.0.1', port: 2002 } },
  databaseProxyInPath,
  database: 'chaos_shop',
  ...(withStore ? { servicesStore: { endpoint: { host: '127.0.0.1', port: 4001 }, password: 's/cret', database: 'services' } } : {}),
  ...uses,
});

describe('the dependency registry', () => {
  it('lists the writer, the reader and the services store\'s five services, as chaos targets with tags Kind and Role', () => {
    assert.deepEqual(DEPENDENCY_NAMES, ['db-writer', 'db-reader', 'services-store', 'read-cache', 'order-queue', 'reviews', 'promo']);
    assert.deepEqual(DEPENDENCIES.map(dependencyTarget), [
      { id: 'db-writer', tags: { Kind: 'database', Role: 'writer' } },
      { id: 'db-reader', tags: { Kind: 'database', Role: 'reader' } },
      { id: 'services-store', tags: { Kind: 'key-value-store', Role: 'breaker-state' } },
      { id: 'read-cache', tags: { Kind: 'key-value-store', Role: 'read-cache' } },
      { id: 'order-queue', tags: { Kind: 'queue', Role: 'write-buffer' } },
      // Article 7's secondary dependencies: DynamoDB's reviews table and S3's promo bucket.
      { id: 'reviews', tags: { Kind: 'key-value-store', Role: 'reviews' } },
      { id: 'promo', tags: { Kind: 'object-store', Role: 'promo' } },
    ]);
  });

  it('has reviews and promo wherever the store runs, whatever the patterns, each its own listener to the store', () => {
    const names = (c: DependencyContext): string[] => presentDependencies(c).map((d) => d.name);
    assert.deepEqual(names(context(true, true)), ['db-writer', 'db-reader', 'services-store', 'reviews', 'promo']);
    // A lab started without the store: the shop answers those routes 503 *_NOT_CONFIGURED.
    assert.deepEqual(names(context(true, false)), ['db-writer', 'db-reader']);
    for (const name of ['reviews', 'promo']) {
      assert.deepEqual(dependencyNamed(name)!.upstream(context(false, true)), { host: '127.0.0.1', port: 4001 });
      assert.throws(() => dependencyNamed(name)!.upstream(context(false)), /runs no services store/);
    }
  });

  it('has the read cache and the order queue only where the patterns use them, each its own listener to the store', () => {
    const names = (c: DependencyContext): string[] => presentDependencies(c).map((d) => d.name);
    assert.deepEqual(names(context(true, true, { readCache: true, writeBuffer: true })), ['db-writer', 'db-reader', 'services-store', 'read-cache', 'order-queue', 'reviews', 'promo']);
    assert.deepEqual(names(context(true, true, { writeBuffer: true })), ['db-writer', 'db-reader', 'services-store', 'order-queue', 'reviews', 'promo']);
    // No store, no cache or queue, whatever the patterns say (the lab starts the store when they need it).
    assert.deepEqual(names(context(true, false, { readCache: true, writeBuffer: true })), ['db-writer', 'db-reader']);
    assert.deepEqual(dependencyNamed('order-queue')!.upstream(context(true, true, { writeBuffer: true })), { host: '127.0.0.1', port: 4001 });
  });

  it('has the services store only in a lab that runs one', () => {
    assert.deepEqual(presentDependencies(context(true)).map((d) => d.name), ['db-writer', 'db-reader']);
    assert.deepEqual(presentDependencies(context(true, true)).map((d) => d.name), ['db-writer', 'db-reader', 'services-store', 'reviews', 'promo']);
    const store = dependencyNamed('services-store')!;
    assert.deepEqual(store.upstream(context(false, true)), { host: '127.0.0.1', port: 4001 });
    assert.throws(() => store.upstream(context(false)), /runs no services store/);
  });

  it('leads to the database proxy when it is in the path, else straight to the cluster endpoints', () => {
    const writer = dependencyNamed('db-writer')!;
    const reader = dependencyNamed('db-reader')!;
    assert.equal(writer.upstream(context(true)).port, 2001);
    assert.equal(reader.upstream(context(true)).port, 2002);
    assert.equal(writer.upstream(context(false)).port, 1001);
    assert.equal(reader.upstream(context(false)).port, 1002);
    assert.equal(dependencyNamed('search'), undefined);
  });

  it('tells an instance where each is through its own variable, the password encoded', () => {
    const listen = { host: '127.0.0.1', port: 3001 };
    assert.deepEqual(
      DEPENDENCIES.map((d) => [d.instanceEnv.name, d.instanceEnv.value(listen, context(true, true))]),
      [
        ['DB_WRITER_URL', 'postgresql://postgres:p%40ss%20word@127.0.0.1:3001/chaos_shop'],
        ['DB_READER_URL', 'postgresql://postgres:p%40ss%20word@127.0.0.1:3001/chaos_shop'],
        // Through its fault-proxy listener, never the store's own port: the path an experiment cuts.
        ['SERVICES_STORE_URL', 'postgresql://postgres:s%2Fcret@127.0.0.1:3001/services'],
        ['READ_CACHE_URL', 'postgresql://postgres:s%2Fcret@127.0.0.1:3001/services'],
        ['ORDER_QUEUE_URL', 'postgresql://postgres:s%2Fcret@127.0.0.1:3001/services'],
        ['REVIEWS_URL', 'postgresql://postgres:s%2Fcret@127.0.0.1:3001/services'],
        ['PROMO_URL', 'postgresql://postgres:s%2Fcret@127.0.0.1:3001/services'],
      ],
    );
  });
});
