// The data tier on real servers: replication, failover, the endpoints, the database proxy, and
// the shop's naive and resilient patterns across a failover (Article 3).
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { ClusterError, PostgresCluster, type FailoverResult } from '../src/lab/cluster/postgres-cluster.ts';
import { DatabaseProxy } from '../src/lab/db-proxy/database-proxy.ts';
import type { Address } from '../src/lab/fault-proxy/connection.ts';
import type { DatabaseEndpoint } from '../src/shop/database/queryable.ts';
import { startShop, type ShopInstance } from '../src/shop/shop-instance.ts';
import { call } from './helpers/lab.ts';
import { within } from './helpers/deadline.ts';
import { resolvePatterns } from '../src/shop/patterns.ts';

const DATABASE = 'chaos_shop';

/** The shop database at `address` (an endpoint or a proxy of `cluster`), with the cluster's password. */
function endpoint(cluster: PostgresCluster, address: Address): DatabaseEndpoint {
  return { ...address, database: DATABASE, user: 'postgres', password: cluster.password };
}

async function query<R extends pg.QueryResultRow>(target: DatabaseEndpoint, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ ...target, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

async function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (ok(last)) return last;
    } catch {
      // not yet
    }
    await delay(50);
  }
  throw new Error(`condition not met within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}

describe('PostgreSQL cluster', () => {
  let cluster: PostgresCluster;
  const on = (address: Address): DatabaseEndpoint => endpoint(cluster, address);
  before(async () => {
    cluster = await PostgresCluster.start({ databases: [DATABASE] });
  });
  after(async () => {
    await cluster?.close();
  });

  it('carries writes on the writer endpoint to the reader endpoint, and reports lag', async () => {
    await query(on(cluster.writerEndpoint), 'CREATE TABLE notes (id int PRIMARY KEY)');
    await query(on(cluster.writerEndpoint), 'INSERT INTO notes VALUES (1), (2)');
    const rows = await eventually(
      () => query<{ n: number }>(on(cluster.readerEndpoint), 'SELECT count(*)::int AS n FROM notes'),
      (r) => r[0]?.n === 2,
      5000,
    );
    assert.equal(rows[0]?.n, 2);
    const [recovery] = await query<{ standby: boolean }>(on(cluster.readerEndpoint), 'SELECT pg_is_in_recovery() AS standby');
    assert.equal(recovery?.standby, true, 'the reader endpoint leads to the standby');
    await assert.rejects(query(on(cluster.readerEndpoint), 'INSERT INTO notes VALUES (3)'), /read-only/);

    const status = await cluster.status();
    assert.deepEqual(status.members.map((m) => [m.name, m.role, m.running]), [['pg-1', 'writer', true], ['pg-2', 'reader', true]]);
    assert.equal(status.endpoints.writer.target, 'pg-1');
    assert.equal(status.endpoints.reader.target, 'pg-2');
    assert.equal(typeof status.members[1]?.replicationLagBytes, 'number');
  });

  it('replicates over a password-authenticated connection whose password is on no command line', async () => {
    // primary_conninfo reaches the standby as a `-c` argument: it names a 0600 passfile, not the password.
    const status = await cluster.status();
    const reader = status.members.find((m) => m.role === 'reader')!;
    assert.equal(typeof reader.replicationLagBytes, 'number', 'the reader streams');
    for (const member of status.members) {
      const cmdline = await readFile(`/proc/${member.pid}/cmdline`, 'utf8');
      assert.ok(!cmdline.includes(cluster.password), `the password is on ${member.name}'s command line`);
    }
    const conninfo = String(cluster.server(reader.name).settings['primary_conninfo']);
    const passfile = /passfile='([^']+)'/.exec(conninfo)?.[1];
    assert.ok(passfile, `primary_conninfo names a passfile: ${conninfo}`);
    assert.equal((await stat(passfile)).mode & 0o777, 0o600);
  });

  it('fails over: the reader is promoted, the endpoints follow, open connections break, the old writer returns as the reader', async () => {
    const before = await cluster.status();
    const oldWriter = before.endpoints.writer.target!;
    const oldReader = before.endpoints.reader.target!;
    const held = new pg.Client(on(cluster.writerEndpoint));
    const broken = new Promise<Error>((resolve) => held.on('error', resolve));
    await held.connect();
    await held.query('INSERT INTO notes VALUES (10)');

    const result = await cluster.failover();
    assert.equal(result.promoted, oldReader);
    assert.equal(result.demoted, oldWriter);
    assert.ok(result.cutConnections >= 1, 'the open connection through the writer endpoint was cut');
    assert.ok((await broken) instanceof Error);

    // Nothing committed before the failover is lost, and the new writer takes writes.
    await query(on(cluster.writerEndpoint), 'INSERT INTO notes VALUES (11)');
    const [{ n } = { n: 0 }] = await query<{ n: number }>(on(cluster.writerEndpoint), 'SELECT count(*)::int AS n FROM notes WHERE id IN (1, 2, 10, 11)');
    assert.equal(n, 4);
    assert.equal((await cluster.status()).endpoints.writer.target, oldReader);

    const rebuilt = await result.readerRebuilt;
    assert.equal(rebuilt.name, oldWriter);
    const after = await cluster.status();
    assert.deepEqual(
      after.members.map((m) => [m.name, m.role]).sort(),
      [[oldReader, 'writer'], [oldWriter, 'reader']].sort(),
    );
    assert.equal(after.endpoints.reader.target, oldWriter);
    await eventually(
      () => query<{ n: number }>(on(cluster.readerEndpoint), 'SELECT count(*)::int AS n FROM notes WHERE id = 11'),
      (r) => r[0]?.n === 1,
      5000,
    );
    await held.end().catch(() => {});
  });

  it('refuses a second failover while the old writer is still being rebuilt', async () => {
    const first = await cluster.failover();
    await assert.rejects(cluster.failover(), /no running reader to promote/);
    await first.readerRebuilt;
  });

  it('runs one of ten parallel failovers and refuses the other nine with FAILOVER_IN_PROGRESS; the cluster heals', async () => {
    // Regression: the in-progress flag was set only after an await (the streaming check), so
    // parallel calls all passed the check and 4–8 of them "succeeded" for one real failover,
    // rebuilding the old writer's data directory several times at once (EEXIST).
    const before = await cluster.status();
    const attempts = await within(30_000, 'ten parallel failovers', Promise.allSettled(Array.from({ length: 10 }, () => cluster.failover())));
    const won = attempts.filter((a): a is PromiseFulfilledResult<FailoverResult> => a.status === 'fulfilled');
    const refused = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
    assert.equal(won.length, 1, `exactly one failover ran: ${JSON.stringify(refused.map((r) => String(r.reason)))}`);
    assert.equal(refused.length, 9);
    for (const { reason } of refused) {
      assert.ok(reason instanceof ClusterError, String(reason));
      assert.equal(reason.code, 'FAILOVER_IN_PROGRESS');
    }
    const result = won[0]!.value;
    assert.equal(result.promoted, before.endpoints.reader.target);
    // While the old writer is rebuilt there is no reader to promote: refused, not corrupted.
    await assert.rejects(cluster.failover(), (error: unknown) => error instanceof ClusterError && error.code === 'NO_READER');

    const rebuilt = await within(60_000, 'the reader rebuild', result.readerRebuilt);
    assert.equal(rebuilt.name, result.demoted);
    const after = await cluster.status();
    assert.deepEqual(
      after.members.map((m) => [m.name, m.role, m.running]).sort(),
      [[result.promoted, 'writer', true], [result.demoted, 'reader', true]].sort(),
    );
    assert.equal(after.failoverInProgress, false);
    assert.equal(typeof after.members.find((m) => m.name === result.demoted)?.replicationLagBytes, 'number', 'the rebuilt reader streams');
    await query(on(cluster.writerEndpoint), 'INSERT INTO notes VALUES (20)');
    await eventually(
      () => query<{ n: number }>(on(cluster.readerEndpoint), 'SELECT count(*)::int AS n FROM notes WHERE id = 20'),
      (r) => r[0]?.n === 1,
      5000,
    );
  });

  it('stops and starts a member, which comes back in its role', async () => {
    const readerName = (await cluster.status()).endpoints.reader.target!;
    await cluster.stopServer(readerName, 'fast');
    const stopped = await cluster.status();
    assert.equal(stopped.members.find((m) => m.name === readerName)?.running, false);
    assert.equal(stopped.endpoints.reader.target, stopped.endpoints.writer.target, 'reads fall back to the writer');
    await cluster.startServer(readerName);
    const started = await cluster.status();
    assert.equal(started.endpoints.reader.target, readerName);
  });
});

describe('database proxy', () => {
  let cluster: PostgresCluster;
  const on = (address: Address): DatabaseEndpoint => endpoint(cluster, address);
  let proxy: DatabaseProxy;
  before(async () => {
    cluster = await PostgresCluster.start({ databases: [DATABASE] });
    proxy = new DatabaseProxy(cluster, { borrowTimeoutMs: 5000 });
    await proxy.listen();
  });
  after(async () => {
    await proxy?.close();
    await cluster?.close();
  });

  it('holds a new connection while the writer is away and lets it through when the writer is back', async () => {
    const writer = (await cluster.status()).endpoints.writer.target!;
    await cluster.stopServer(writer, 'fast');
    const started = Date.now();
    const attempt = query<{ one: number }>(on(proxy.writerEndpoint), 'SELECT 1 AS one');
    await delay(500);
    assert.equal(proxy.status().writer.heldConnections, 1);
    await cluster.startServer(writer);
    const rows = await attempt;
    assert.equal(rows[0]?.one, 1);
    assert.ok(Date.now() - started >= 450, 'the connection waited for the writer');
  });

  it('rides through a failover: a client that reconnects lands on the new writer', async () => {
    const failover = cluster.failover();
    // Connect once the writer is away (a client that connected before would be cut by the
    // old writer's shutdown, as on Aurora): the proxy holds it until the new writer is up.
    const deadline = Date.now() + 10_000;
    while (cluster.writerAddress() !== undefined && Date.now() < deadline) await delay(2);
    assert.equal(cluster.writerAddress(), undefined, 'the failover took the writer away');
    const rows = await query<{ standby: boolean; port: number }>(on(proxy.writerEndpoint), 'SELECT pg_is_in_recovery() AS standby, inet_server_port() AS port');
    const result = await failover;
    assert.equal(rows[0]?.standby, false);
    assert.equal(rows[0]?.port, cluster.server(result.promoted).port, 'it landed on the promoted server');
    await result.readerRebuilt;
  });

  it('gives up on a held connection after the borrow timeout', async () => {
    const short = new DatabaseProxy({ writerAddress: () => undefined, readerAddress: () => undefined }, { borrowTimeoutMs: 300 });
    await short.listen();
    try {
      const started = Date.now();
      await assert.rejects(query(on(short.writerEndpoint), 'SELECT 1'));
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 3000, `failed after ${elapsed} ms`);
    } finally {
      await short.close();
    }
  });

  it('deregistered targets: open connections close, every attempt fails at once; registering heals', async () => {
    const open = new pg.Client(on(proxy.writerEndpoint));
    const broken = new Promise<Error>((resolve) => open.on('error', resolve));
    await open.connect();
    const result = proxy.deregister();
    assert.equal(result.closedConnections, 1);
    assert.ok((await broken) instanceof Error);
    for (const address of [proxy.writerEndpoint, proxy.readerEndpoint]) {
      const started = Date.now();
      await assert.rejects(query(on(address), 'SELECT 1'));
      assert.ok(Date.now() - started < 1000, 'failed at once, not after a timeout');
    }
    proxy.register();
    assert.equal((await query<{ one: number }>(on(proxy.writerEndpoint), 'SELECT 1 AS one'))[0]?.one, 1);
    await open.end().catch(() => {});
  });
});

describe('the shop across a failover (Article 3)', () => {
  let cluster: PostgresCluster;
  const on = (address: Address): DatabaseEndpoint => endpoint(cluster, address);
  let proxy: DatabaseProxy;
  let naive: ShopInstance;
  let resilient: ShopInstance;
  before(async () => {
    cluster = await PostgresCluster.start({ databases: [DATABASE] });
    proxy = new DatabaseProxy(cluster);
    await proxy.listen();
    // BEFORE: one persistent connection, straight to the cluster's writer endpoint.
    naive = await startShop({ instanceId: 'i-naive', patterns: resolvePatterns('naive'), writer: on(cluster.writerEndpoint) });
    // AFTER: through the proxy, reads on the reader, checked connections, retries.
    resilient = await startShop({
      instanceId: 'i-resilient',
      patterns: resolvePatterns('resilient'),
      writer: on(proxy.writerEndpoint),
      reader: on(proxy.readerEndpoint),
    });
    await naive.whenInitialised();
    await resilient.whenInitialised();
  });
  after(async () => {
    await naive?.close();
    await resilient?.close();
    await proxy?.close();
    await cluster?.close();
  });

  it('the resilient shop keeps writing; the naive one breaks and stays broken; the old writer returns as the reader', async () => {
    assert.equal((await call(naive.url, 'POST', '/orders', { product_id: 1, quantity: 1 })).status, 201);
    assert.equal((await call(resilient.url, 'POST', '/orders', { product_id: 1, quantity: 1 })).status, 201);

    const failover = await cluster.failover();

    const resilientWrites = [];
    for (let i = 0; i < 5; i++) resilientWrites.push((await call(resilient.url, 'POST', '/orders', { product_id: 2, quantity: 1 })).status);
    assert.deepEqual(resilientWrites, [201, 201, 201, 201, 201]);
    assert.equal((await call(resilient.url, 'GET', '/products')).status, 200);

    const naiveAnswers = [];
    for (let i = 0; i < 5; i++) {
      naiveAnswers.push((await call(naive.url, 'GET', '/products')).status);
      await delay(100);
    }
    assert.deepEqual(naiveAnswers, [500, 500, 500, 500, 500]);
    assert.equal((await call(naive.url, 'GET', '/health/deep')).status, 500);

    await failover.readerRebuilt;
    assert.equal((await call(naive.url, 'POST', '/orders', { product_id: 1, quantity: 1 })).status, 500, 'still broken after the cluster healed');
    const orders = await query<{ n: number }>(on(cluster.writerEndpoint), 'SELECT count(*)::int AS n FROM orders WHERE product_id = 2');
    assert.equal(orders[0]?.n, 5, 'every acknowledged order is there, once');
  });
});
