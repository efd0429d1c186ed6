// The services store's bounded pool when a connection breaks in the middle of a statement.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FaultProxy } from '../src/lab/fault-proxy/index.ts';
import { StorePool } from '../src/services/postgres/store-pool.ts';
import type { DatabaseEndpoint } from '../src/shop/database/queryable.ts';
import { until, within } from './helpers/deadline.ts';
import { freshDatabase, usePostgres, withClient } from './helpers/lab.ts';

const postgres = usePostgres();

describe('StorePool', () => {
  it('a connection cut mid-statement rejects that statement and does not crash the process', async () => {
    // Regression: pg.Pool listens for 'error' on a client only while it is idle; a connection
    // reset while checked out emitted an unhandled 'error' that killed the shop (1 run in 8).
    const direct = await within(30_000, 'creating a database', freshDatabase(postgres()));
    const proxy = new FaultProxy();
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => void uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    const status = await proxy.addProxy({ name: 'store', upstream: { host: direct.host, port: direct.port } });
    const pool = new StorePool({
      connection: { ...direct, port: status.listen.port },
      connectTimeoutMs: 2000,
      // Far beyond the statements' 30 s sleep: what ends them within seconds is the cut.
      statementTimeoutMs: 60_000,
      maxConnections: 4,
      applicationName: 'store-pool-test',
    });
    try {
      for (let round = 0; round < 5; round++) {
        // Each round's text is its own, so the wait below cannot count a previous round's orphans.
        const text = `SELECT pg_sleep(30) /* round ${round} */`;
        const statements = [0, 1, 2].map(() => pool.query({ text }, []).then(() => 'answered', (error: Error) => error.message));
        // Cut only once the server runs all three (a fixed delay under load could cut before
        // they were sent, and the test would no longer cut a statement mid-way).
        await until(`round ${round}: the three statements running on the server`, () => runningOnServer(direct, text), 10_000);
        await proxy.addFault('store', { type: 'reset' });
        const outcomes = await within(10_000, 'the cut statements', Promise.all(statements));
        assert.ok(outcomes.every((outcome) => outcome !== 'answered'), `every cut statement rejects, got ${outcomes.join(', ')}`);
        // The server does not notice the cut while it sleeps: end those sessions.
        await withClient(direct, (client) => client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1', [text]));
        await proxy.clearFaults();
        // The pool recovers: broken connections were not reused.
        const { rows } = await within(10_000, 'a statement after the cut', pool.query<{ one: number }>({ text: 'SELECT 1 AS one' }, []));
        assert.equal(rows[0]?.one, 1);
      }
      // An 'error' a cut connection emits after its statement's rejection comes with its socket's
      // last events ('error', then 'close' in the loop turn's close phase, then the client's 'end'),
      // in the loop turns right after the cut: the statements since took many more, and three more
      // turns (not a time) leave none of those events still to come.
      for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(uncaught, []);
    } finally {
      process.off('uncaughtException', onUncaught);
      await pool.end();
      await proxy.close();
      // A round that failed may have left sessions sleeping.
      await withClient(direct, (client) =>
        client.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'store-pool-test'`),
      );
    }
  });
});

/** Whether the server is running three statements of this text for the pool (a direct connection asks). */
async function runningOnServer(endpoint: DatabaseEndpoint, text: string): Promise<boolean> {
  return withClient(endpoint, async (client) => {
    const { rows } = await client.query<{ running: number }>(
      `SELECT count(*)::int AS running FROM pg_stat_activity
        WHERE application_name = 'store-pool-test' AND state = 'active' AND query = $1`,
      [text],
    );
    return rows[0]?.running === 3;
  });
}
