// The dependency registry: one entry per dependency gives its listener's upstream (by the lab's
// topology), its target tags and the variable that tells an instance where it is.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEPENDENCIES, DEPENDENCY_NAMES, dependencyNamed, dependencyTarget, type DependencyContext } from './dependencies.ts';

const context = (databaseProxyInPath: boolean): DependencyContext => ({
  cluster: { writerEndpoint: { host: '127.0.0.1', port: 1001 }, readerEndpoint: { host: '127.0.0.1', port: 1002 }, password: 'p@ss word' },
  databaseProxy: { writerEndpoint: { host: '127.0.0.1', port: 2001 }, readerEndpoint: { host: '127.0.0.1', port: 2002 } },
  databaseProxyInPath,
  database: 'chaos_shop',
});

describe('the dependency registry', () => {
  it('lists the writer and the reader, as chaos targets with tags Kind and Role', () => {
    assert.deepEqual(DEPENDENCY_NAMES, ['db-writer', 'db-reader']);
    assert.deepEqual(DEPENDENCIES.map(dependencyTarget), [
      { id: 'db-writer', tags: { Kind: 'database', Role: 'writer' } },
      { id: 'db-reader', tags: { Kind: 'database', Role: 'reader' } },
    ]);
  });

  it('leads to the database proxy when it is in the path, else straight to the cluster endpoints', () => {
    const writer = dependencyNamed('db-writer')!;
    const reader = dependencyNamed('db-reader')!;
    assert.equal(writer.upstream(context(true)).port, 2001);
    assert.equal(reader.upstream(context(true)).port, 2002);
    assert.equal(writer.upstream(context(false)).port, 1001);
    assert.equal(reader.upstream(context(false)).port, 1002);
    assert.equal(dependencyNamed('promo'), undefined);
  });

  it('tells an instance where each is through its own variable, the password encoded', () => {
    const listen = { host: '127.0.0.1', port: 3001 };
    assert.deepEqual(
      DEPENDENCIES.map((d) => [d.instanceEnv.name, d.instanceEnv.value(listen, context(true))]),
      [
        ['DB_WRITER_URL', 'postgresql://postgres:p%40ss%20word@127.0.0.1:3001/chaos_shop'],
        ['DB_READER_URL', 'postgresql://postgres:p%40ss%20word@127.0.0.1:3001/chaos_shop'],
      ],
    );
  });
});
