// The queue's statements. Each operation is one statement (autocommit), so it is atomic and a
// NOTIFY it makes is delivered exactly when its change commits. $1 is always the queue's name.
import type pg from 'pg';
import { QUEUE_CHANNEL } from './queue-schema.ts';
import { DEAD_LETTER_PREVIEW_CHARS } from './queue-settings.ts';

const CHANNEL = `'${QUEUE_CHANNEL}'`;
const MS = `* interval '1 millisecond'`;

// No counter is touched: a counter row updated by every send would be one row lock that every
// shop instance takes in turn, during an outage when all of them are sending. Messages sent is
// counted as deleted + rows still on the queue (see STATS).
export const SEND: pg.QueryConfig = {
  name: 'queue-send',
  text: `INSERT INTO queue_messages (queue, message_id, body, key) VALUES ($1, $2, $3, $4)
    RETURNING message_id::text AS message_id, pg_notify(${CHANNEL}, $1)`,
};

// $2 how many, $3 visibility timeout (ms), $4 maxReceiveCount, $5 the largest body (bytes).
// SKIP LOCKED: a row another receiver is taking right now is passed over, and a row it took
// (committed) no longer matches visible_at <= now when re-checked, so two receivers never get
// the same message. A candidate already received maxReceiveCount times is moved to the
// dead-letter queue instead of being delivered (SQS: the receive that would exceed the count
// moves it), keeping its last error. So is a body over the limit (only SQL by hand can put one
// there): octet_length reads a stored value's size without reading the value, so the move costs
// nothing, where delivering it would ship the whole body and time out, roll back, and leave it
// at the head of the queue for every receive after.
export const RECEIVE: pg.QueryConfig = {
  name: 'queue-receive',
  text: `WITH candidates AS (
    SELECT id, receive_count, octet_length(body) AS bytes FROM queue_messages
    WHERE queue = $1 AND dead_lettered_at IS NULL AND visible_at <= clock_timestamp()
    ORDER BY visible_at, id LIMIT $2
    FOR UPDATE SKIP LOCKED
  ), dead AS (
    UPDATE queue_messages m SET dead_lettered_at = clock_timestamp(), receipt = NULL,
      dead_letter_reason = CASE WHEN c.bytes > $5::int
        THEN format('message body is %s bytes, over the queue''s limit of %s bytes: never delivered', c.bytes, $5::int)
        ELSE coalesce(m.last_error,
          format('received %s times without being deleted (maxReceiveCount %s)', m.receive_count, $4::int)) END
    FROM candidates c WHERE m.id = c.id AND (c.receive_count >= $4::int OR c.bytes > $5::int)
    RETURNING m.id
  ), received AS (
    UPDATE queue_messages m SET receive_count = m.receive_count + 1, receipt = gen_random_uuid()::text,
      visible_at = clock_timestamp() + $3::float8 ${MS}
    FROM candidates c WHERE m.id = c.id AND c.receive_count < $4::int AND c.bytes <= $5::int
    RETURNING m.id, m.message_id, m.receipt, m.body, m.key, m.receive_count, m.sent_at
  )
  SELECT false AS dead, id, message_id::text AS message_id, receipt, body, key, receive_count, sent_at FROM received
  UNION ALL
  SELECT true, id, NULL, NULL, NULL, NULL, NULL, NULL FROM dead
  ORDER BY id`,
};

/** How long until the next message becomes visible (ms; 0 or less: one is visible now), null: none. */
export const NEXT_VISIBLE: pg.QueryConfig = {
  name: 'queue-next-visible',
  text: `SELECT (extract(epoch FROM min(visible_at) - clock_timestamp()) * 1000)::float8 AS next_ms
    FROM queue_messages WHERE queue = $1 AND dead_lettered_at IS NULL`,
};

// A receipt is valid while it is the message's latest delivery: a new receive replaces it, a
// move to the dead-letter queue clears it. Past its visibility timeout but not received again,
// it still works (as in SQS): nobody else holds the message.
const BY_RECEIPT = `queue = $1 AND receipt = $2 AND dead_lettered_at IS NULL`;

// The one counter left: a deleted message leaves no row to count. Its row lock is taken only by
// deleters (the recovery worker, one message at a time), never by the shop's sends.
export const DELETE: pg.QueryConfig = {
  name: 'queue-delete',
  text: `WITH gone AS (
    DELETE FROM queue_messages WHERE ${BY_RECEIPT} RETURNING id
  ), counted AS (
    INSERT INTO queues (name, deleted) SELECT $1, 1 WHERE EXISTS (SELECT 1 FROM gone)
    ON CONFLICT (name) DO UPDATE SET deleted = queues.deleted + 1
  )
  SELECT id FROM gone`,
};

// $3 timeout (ms). Visible again at once: wake the long polls waiting for it.
export const CHANGE_VISIBILITY: pg.QueryConfig = {
  name: 'queue-change-visibility',
  text: `WITH changed AS (
    UPDATE queue_messages SET visible_at = clock_timestamp() + $3::float8 ${MS} WHERE ${BY_RECEIPT} RETURNING id
  )
  SELECT id, CASE WHEN $3::float8 <= 0 THEN pg_notify(${CHANNEL}, $1) END FROM changed`,
};

// $3 reason.
export const DEAD_LETTER: pg.QueryConfig = {
  name: 'queue-dead-letter',
  text: `UPDATE queue_messages SET dead_lettered_at = clock_timestamp(), dead_letter_reason = $3, receipt = NULL
    WHERE ${BY_RECEIPT} RETURNING id`,
};

// $3 error.
export const RECORD_ERROR: pg.QueryConfig = {
  name: 'queue-record-error',
  text: `UPDATE queue_messages SET last_error = $3 WHERE ${BY_RECEIPT} RETURNING id`,
};

// $2 limit (NULL: all). Back on the queue as SQS's redrive does: visible now, receive count 0,
// and no last error: a message dead-lettered again must show why it failed after the redrive,
// not the reason from before it.
export const REDRIVE: pg.QueryConfig = {
  name: 'queue-redrive',
  text: `WITH picked AS (
    SELECT id FROM queue_messages WHERE queue = $1 AND dead_lettered_at IS NOT NULL
    ORDER BY dead_lettered_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
  ), moved AS (
    UPDATE queue_messages m SET dead_lettered_at = NULL, dead_letter_reason = NULL, last_error = NULL,
      receive_count = 0, receipt = NULL, visible_at = clock_timestamp()
    FROM picked p WHERE m.id = p.id RETURNING m.id
  )
  SELECT id, pg_notify(${CHANNEL}, $1) FROM moved`,
};

// sent = deleted + every row of the queue: a row leaves the table only by a delete (a dead
// letter and a redriven message stay rows), so nothing sent is missed or counted twice.
export const STATS: pg.QueryConfig = {
  name: 'queue-stats',
  text: `WITH t AS (SELECT clock_timestamp() AS now)
  SELECT
    count(*) FILTER (WHERE dead_lettered_at IS NULL AND visible_at <= t.now)::int AS depth,
    count(*) FILTER (WHERE dead_lettered_at IS NULL AND visible_at > t.now)::int AS in_flight,
    count(*) FILTER (WHERE dead_lettered_at IS NOT NULL)::int AS dead_letters,
    (extract(epoch FROM t.now - min(sent_at) FILTER (WHERE dead_lettered_at IS NULL)) * 1000)::float8 AS oldest_age_ms,
    (count(queue_messages.id) + coalesce((SELECT deleted FROM queues WHERE name = $1), 0))::float8 AS sent,
    coalesce((SELECT deleted FROM queues WHERE name = $1), 0)::float8 AS deleted
  FROM t LEFT JOIN queue_messages ON queue = $1
  GROUP BY t.now`,
};

// $2 limit. A preview of each body, and its size: a listing of many large bodies would be huge.
export const DEAD_LETTERS: pg.QueryConfig = {
  name: 'queue-dead-letters',
  text: `SELECT message_id::text AS message_id, left(body, ${DEAD_LETTER_PREVIEW_CHARS}) AS body, octet_length(body) AS body_bytes, key, receive_count, dead_letter_reason, last_error, dead_lettered_at, sent_at
    FROM queue_messages WHERE queue = $1 AND dead_lettered_at IS NOT NULL
    ORDER BY dead_lettered_at, id LIMIT $2`,
};

// $2 key.
export const STATES_OF_KEY: pg.QueryConfig = {
  name: 'queue-states-of-key',
  text: `SELECT CASE WHEN dead_lettered_at IS NOT NULL THEN 'dead-letter'
      WHEN visible_at > clock_timestamp() THEN 'in-flight' ELSE 'queued' END AS state
    FROM queue_messages WHERE queue = $1 AND key = $2`,
};
