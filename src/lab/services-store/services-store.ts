// The lab's services store: a third PostgreSQL server, independent of the shop's cluster, that
// stands for the managed services of the serverless labs: DynamoDB (the shared circuit breakers'
// state, the read cache, Article 7's reviews table), SQS (the write buffer's order queue) and S3
// (Article 7's promo bucket).
import pg from 'pg';
import { PostgresServer, type PostgresConnectionConfig } from '../postgres/index.ts';
import { ensureBreakerSchema } from '../../resilience/circuit-breaker/index.ts';
import { ensureQueueSchema, createQueue, ORDER_QUEUE_NAME } from '../../services/queue/index.ts';
import { ensureCacheSchema } from '../../services/cache/index.ts';
import { ensureReviewsSchema, seedReviews } from '../../services/reviews/index.ts';
import { ensureBlobSchema, seedPromo } from '../../services/promo/index.ts';

/** The database the services store's tables live in. */
export const SERVICES_DATABASE = 'services';

/** Options of ServicesStore.start. */
export interface ServicesStoreOptions {
  /** Receives every line the server logs. */
  onLog?: (line: string) => void;
  /** Data directory; default: a fresh one under the temp directory, removed by close(). */
  dataDir?: string;
  /** How long the server may take to start (default 30 s). */
  startTimeoutMs?: number;
  /** The superuser's password (default: a fresh random one); a store started again over its `dataDir` needs the first one's. */
  password?: string;
}

/** A running services store. */
export class ServicesStore {
  /** The PostgreSQL server: stop, kill or restart it to break the store itself. */
  readonly server: PostgresServer;

  private constructor(server: PostgresServer) {
    this.server = server;
  }

  /**
   * Starts the server, creates the database, the breaker, queue, cache, reviews and blobs tables,
   * the order queue, and seeds the reviews and the promo banner (idempotent over an existing data directory).
   */
  static async start(options: ServicesStoreOptions = {}): Promise<ServicesStore> {
    const server = await PostgresServer.start({
      dataDir: options.dataDir,
      onLog: options.onLog,
      startTimeoutMs: options.startTimeoutMs,
      password: options.password,
      // A small store: a few connections per instance, a handful of instances.
      settings: { max_connections: 100 },
    });
    try {
      await withClient(server.connectionConfig(), async (client) => {
        const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [SERVICES_DATABASE]);
        if (rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(SERVICES_DATABASE)}`);
      });
      // Here, once, rather than by each client: concurrent CREATE … IF NOT EXISTS can collide.
      await withClient(server.connectionConfig(SERVICES_DATABASE), async (client) => {
        await ensureBreakerSchema(client);
        await ensureQueueSchema(client);
        await createQueue(client, ORDER_QUEUE_NAME);
        await ensureCacheSchema(client);
        await ensureReviewsSchema(client);
        await seedReviews(client);
        await ensureBlobSchema(client);
        await seedPromo(client);
      });
    } catch (error) {
      await server.destroy();
      throw error;
    }
    return new ServicesStore(server);
  }

  /** Where the store listens (put a fault-proxy listener in front of it to break the path). */
  get endpoint(): { host: string; port: number } {
    return { host: this.server.host, port: this.server.port };
  }

  /**
   * What a pg Client or Pool (a PostgresBreakerStore, PostgresQueue, PostgresProductCache,
   * PostgresReviewStore, PostgresBlobStore) needs to reach the store's database.
   */
  connectionConfig(): PostgresConnectionConfig {
    return this.server.connectionConfig(SERVICES_DATABASE);
  }

  /** Stops the server and removes its data directory (when it made it). */
  async close(): Promise<void> {
    await this.server.destroy();
  }
}

async function withClient<T>(config: PostgresConnectionConfig, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(config);
  client.on('error', () => {}); // a broken idle connection must not crash the lab; the query reports it
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
