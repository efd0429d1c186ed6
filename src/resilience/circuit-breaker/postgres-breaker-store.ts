// The shared breaker's store on PostgreSQL (in the lab, the services store: it stands for the
// DynamoDB table of the serverless circuit-breaker lab). Each write is one statement: a guarded
// UPDATE … RETURNING that only applies to the generation the caller saw, and logs the
// transition it made in the same statement. Time is the server's clock_timestamp(), never ours.
import pg from 'pg';
import { BreakerStoreTimeoutError, type BreakerRecord, type BreakerStore, type BreakerWrite } from './breaker-store.ts';
import type { CircuitState } from './machine.ts';

/** The tables of the shared breakers: one row per breaker, and the history of their transitions. */
export const BREAKER_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS circuit_breakers (
  name        text PRIMARY KEY,
  state       text NOT NULL DEFAULT 'CLOSED' CHECK (state IN ('CLOSED', 'OPEN', 'HALF_OPEN')),
  generation  bigint NOT NULL DEFAULT 0,
  failures    integer NOT NULL DEFAULT 0,
  opened_at   timestamptz,
  trial_until timestamptz,
  updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS circuit_breaker_transitions (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL,
  generation  bigint NOT NULL,
  from_state  text NOT NULL,
  to_state    text NOT NULL,
  reason      text NOT NULL,
  at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS circuit_breaker_transitions_name ON circuit_breaker_transitions (name, id);
`;

/** Creates the breaker tables (idempotent; run it once, from one process: concurrent CREATEs can collide). */
export async function ensureBreakerSchema(client: Pick<pg.ClientBase, 'query'>): Promise<void> {
  await client.query(BREAKER_SCHEMA_SQL);
}

/** One row of the transition history. */
export interface StoredTransition {
  generation: number;
  from: CircuitState;
  to: CircuitState;
  reason: string;
  at: Date;
}

/** Options of PostgresBreakerStore. */
export interface PostgresBreakerStoreOptions {
  /** Bound on one statement, connecting included (default 250 ms): a blackholed store cannot hang a call. */
  timeoutMs?: number;
  /**
   * Connections kept (default 4). A shared breaker keeps at most BREAKER_CALLS_IN_FLIGHT store
   * calls in flight; fewer connections than that make its calls queue for one, and the wait counts
   * against its store timeout: a healthy store would look unreachable.
   */
  maxConnections?: number;
}

/** Store calls one shared breaker has in flight at most: one read, one count write, one trial write. */
export const BREAKER_CALLS_IN_FLIGHT = 3;

// Ages, not timestamps: the caller adds them to its own monotonic clock.
const RECORD = `state, generation::float8 AS generation, failures,
  CASE WHEN state = 'OPEN' THEN extract(epoch FROM clock_timestamp() - opened_at)::float8 * 1000 END AS open_for_ms,
  CASE WHEN state = 'HALF_OPEN' THEN extract(epoch FROM trial_until - clock_timestamp())::float8 * 1000 END AS trial_lease_left_ms`;

const READ = { name: 'breaker-read', text: `SELECT ${RECORD} FROM circuit_breakers WHERE name = $1` };
const CREATE = { name: 'breaker-create', text: `INSERT INTO circuit_breakers (name) VALUES ($1) ON CONFLICT DO NOTHING` };

// Under READ COMMITTED a concurrent UPDATE of the same row waits for the first to commit, then
// re-checks its WHERE on the new row: the generation has moved, so it updates nothing. That is
// how 20 callers failing at once open the circuit once. $4 is how many failures the write
// carries: an instance sends those it accumulated while its previous write was in flight.
const RECORD_FAILURE = {
  name: 'breaker-record-failure',
  text: `WITH changed AS (
    UPDATE circuit_breakers SET
      failures   = CASE WHEN failures + $4::int >= $3::int THEN 0 ELSE failures + $4::int END,
      state      = CASE WHEN failures + $4::int >= $3::int THEN 'OPEN' ELSE 'CLOSED' END,
      generation = CASE WHEN failures + $4::int >= $3::int THEN generation + 1 ELSE generation END,
      opened_at  = CASE WHEN failures + $4::int >= $3::int THEN clock_timestamp() ELSE opened_at END,
      updated_at = clock_timestamp()
    WHERE name = $1 AND generation = $2 AND state = 'CLOSED'
    RETURNING *
  ), logged AS (
    INSERT INTO circuit_breaker_transitions (name, generation, from_state, to_state, reason)
    SELECT name, generation, 'CLOSED', 'OPEN', format('%s consecutive failures', $3::int) FROM changed WHERE state = 'OPEN'
  )
  SELECT ${RECORD} FROM changed`,
};

const RESET_FAILURES = {
  name: 'breaker-reset-failures',
  text: `UPDATE circuit_breakers SET failures = 0, updated_at = clock_timestamp()
    WHERE name = $1 AND generation = $2 AND state = 'CLOSED' AND failures > 0
    RETURNING ${RECORD}`,
};

const ACQUIRE_TRIAL = {
  name: 'breaker-acquire-trial',
  text: `WITH changed AS (
    UPDATE circuit_breakers SET
      state = 'HALF_OPEN', generation = generation + 1, failures = 0,
      trial_until = clock_timestamp() + $5::float8 * interval '1 millisecond',
      updated_at = clock_timestamp()
    WHERE name = $1 AND generation = $2 AND state = $3::text AND (
      ($3::text = 'OPEN' AND clock_timestamp() >= opened_at + $4::float8 * interval '1 millisecond')
      OR ($3::text = 'HALF_OPEN' AND clock_timestamp() >= trial_until))
    RETURNING *
  ), logged AS (
    INSERT INTO circuit_breaker_transitions (name, generation, from_state, to_state, reason)
    SELECT name, generation, $3::text, 'HALF_OPEN',
      CASE WHEN $3::text = 'OPEN' THEN 'recovery timeout elapsed' ELSE 'trial lease expired' END FROM changed
  )
  SELECT ${RECORD} FROM changed`,
};

const COMPLETE_TRIAL = {
  name: 'breaker-complete-trial',
  text: `WITH changed AS (
    UPDATE circuit_breakers SET
      state = CASE WHEN $3::boolean THEN 'CLOSED' ELSE 'OPEN' END,
      generation = generation + 1, failures = 0, trial_until = NULL,
      opened_at = CASE WHEN $3::boolean THEN opened_at ELSE clock_timestamp() END,
      updated_at = clock_timestamp()
    WHERE name = $1 AND generation = $2 AND state = 'HALF_OPEN'
    RETURNING *
  ), logged AS (
    INSERT INTO circuit_breaker_transitions (name, generation, from_state, to_state, reason)
    SELECT name, generation, 'HALF_OPEN', state,
      CASE WHEN $3::boolean THEN 'trial call succeeded' ELSE 'trial call failed' END FROM changed
  )
  SELECT ${RECORD} FROM changed`,
};

interface RecordRow {
  state: CircuitState;
  generation: number;
  failures: number;
  open_for_ms: number | null;
  trial_lease_left_ms: number | null;
}

function toRecord(row: RecordRow): BreakerRecord {
  return {
    state: row.state,
    generation: row.generation,
    failures: row.failures,
    openForMs: row.open_for_ms,
    trialLeaseLeftMs: row.trial_lease_left_ms,
  };
}

/** A BreakerStore on a PostgreSQL database that holds BREAKER_SCHEMA_SQL's tables. */
export class PostgresBreakerStore implements BreakerStore {
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #timeoutMs: number;

  /** Given a pool, uses it (and leaves it open on close); given a connection config, opens its own. */
  constructor(connection: pg.Pool | pg.PoolConfig, options: PostgresBreakerStoreOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 250;
    if (connection instanceof pg.Pool) {
      this.#pool = connection;
      this.#ownsPool = false;
    } else {
      this.#pool = new pg.Pool({
        ...connection,
        max: options.maxConnections ?? 4,
        connectionTimeoutMillis: this.#timeoutMs,
        idleTimeoutMillis: 10_000,
        // A stateless invocation must be able to end with the pool's idle connections still open.
        allowExitOnIdle: true,
      });
      this.#ownsPool = true;
    }
    // An idle connection that breaks (the store restarted, a fault reset it) must not crash us.
    this.#pool.on('error', () => {});
    // A connection that breaks while checked out (a fault proxy resets it mid-statement) emits
    // 'error' on the client, which the pool only listens for while it is idle: without a
    // listener of its own that error would crash the process. The statement's rejection reports it.
    this.#pool.on('connect', (client) => client.on('error', () => {}));
  }

  async read(name: string): Promise<BreakerRecord> {
    const { rows } = await this.#query<RecordRow>(READ, [name]);
    if (rows[0]) return toRecord(rows[0]);
    // The first time anyone asks about this breaker (once per store, not once per process).
    await this.#query(CREATE, [name]);
    const again = await this.#query<RecordRow>(READ, [name]);
    if (!again.rows[0]) throw new Error(`breaker ${name} vanished from the store`);
    return toRecord(again.rows[0]);
  }

  recordFailure(name: string, generation: number, failureThreshold: number, count: number): Promise<BreakerWrite> {
    if (!Number.isInteger(count) || count < 1) return Promise.reject(new RangeError(`recordFailure count must be an integer of 1 or more, got ${count}`));
    return this.#write(name, RECORD_FAILURE, [name, generation, failureThreshold, count]);
  }

  resetFailures(name: string, generation: number): Promise<BreakerWrite> {
    return this.#write(name, RESET_FAILURES, [name, generation]);
  }

  acquireTrial(name: string, generation: number, from: 'OPEN' | 'HALF_OPEN', recoveryTimeoutMs: number, trialLeaseMs: number): Promise<BreakerWrite> {
    return this.#write(name, ACQUIRE_TRIAL, [name, generation, from, recoveryTimeoutMs, trialLeaseMs]);
  }

  completeTrial(name: string, generation: number, success: boolean): Promise<BreakerWrite> {
    return this.#write(name, COMPLETE_TRIAL, [name, generation, success]);
  }

  /** The breaker's transitions, oldest first: the store's generation history. */
  async transitions(name: string): Promise<StoredTransition[]> {
    const { rows } = await this.#query<{ generation: number; from_state: CircuitState; to_state: CircuitState; reason: string; at: Date }>(
      { name: 'breaker-transitions', text: 'SELECT generation::float8 AS generation, from_state, to_state, reason, at FROM circuit_breaker_transitions WHERE name = $1 ORDER BY id' },
      [name],
    );
    return rows.map((row) => ({ generation: row.generation, from: row.from_state, to: row.to_state, reason: row.reason, at: row.at }));
  }

  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.end();
  }

  async #write(name: string, query: pg.QueryConfig, values: unknown[]): Promise<BreakerWrite> {
    const { rows } = await this.#query<RecordRow>(query, values);
    if (rows[0]) return { applied: true, record: toRecord(rows[0]) };
    // The guard did not hold: read the row anew (a new statement, so a new snapshot that sees
    // the write that won; the failed statement's own snapshot may predate it).
    return { applied: false, record: await this.read(name) };
  }

  /** One statement, bounded by the timeout; a connection that timed out is destroyed, not reused. */
  async #query<R extends pg.QueryResultRow>(query: pg.QueryConfig, values: unknown[]): Promise<pg.QueryResult<R>> {
    const client = await this.#pool.connect();
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        client.query<R>({ ...query, values }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new BreakerStoreTimeoutError(this.#timeoutMs)), this.#timeoutMs);
        }),
      ]);
      client.release();
      return result;
    } catch (error) {
      // A connection whose statement hung (blackholed) or failed mid-way is not trusted again.
      client.release(error instanceof Error ? error : true);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}
