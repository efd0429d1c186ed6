// The queue's tables on the services store. One row per message; the dead-letter queue is the
// same rows with dead_lettered_at set (SQS keeps it as a second queue; one table lets a move be
// a single UPDATE, so a message is never in both or in neither). Every time is the store's
// clock_timestamp(), so the shop instances, the worker and the lab agree on visibility.
import type { StatementRunner } from '../postgres/index.ts';

/** The channel every send, redrive and zero-visibility change notifies (payload: the queue's name). */
export const QUEUE_CHANNEL = 'chaos_lab_queue';

/** The queue tables: the queues with their count of deleted messages, and the messages. */
export const QUEUE_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS queues (
  name        text PRIMARY KEY,
  deleted     bigint NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS queue_messages (
  id                 bigserial PRIMARY KEY,
  queue              text NOT NULL,
  message_id         uuid NOT NULL UNIQUE,
  body               text NOT NULL,
  key                text,
  sent_at            timestamptz NOT NULL DEFAULT clock_timestamp(),
  visible_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
  receive_count      integer NOT NULL DEFAULT 0,
  receipt            text UNIQUE,
  last_error         text,
  dead_lettered_at   timestamptz,
  dead_letter_reason text
);
CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (queue, visible_at, id) WHERE dead_lettered_at IS NULL;
CREATE INDEX IF NOT EXISTS queue_messages_dead ON queue_messages (queue, dead_lettered_at, id) WHERE dead_lettered_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS queue_messages_key ON queue_messages (queue, key) WHERE key IS NOT NULL;
`;

/** Creates the queue tables (idempotent; run it once, from one process: concurrent CREATEs can collide). */
export async function ensureQueueSchema(client: StatementRunner): Promise<void> {
  await client.query(QUEUE_SCHEMA_SQL);
}

/** Creates a queue (its row, for the count of deleted messages); a queue not created works as well (a delete creates the row). */
export async function createQueue(client: StatementRunner, name: string): Promise<void> {
  await client.query('INSERT INTO queues (name) VALUES ($1) ON CONFLICT DO NOTHING', [name]);
}
