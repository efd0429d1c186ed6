// The order audit: what the client was told against what the database holds (Jepsen's history,
// in small). A 201 must be in the database; a 202 is an acknowledgement before the commit (the
// write buffer's), so it must END committed exactly once, or rejected with a reason (the
// recovery worker's business rejection, recorded by place_order in idempotency_keys, or its 422
// for a key already used by a different order, recorded in key_conflicts), else it is lost. Every
// entry is matched to the order under its key by product and quantity too: a key reused for a
// different order does not make that order this entry's. Dead-lettered and still-queued 202s are findings of their own, not lost: the order is
// still durable in the queue and a redrive can apply it. The other way round, every order of the
// run must be explained by the ledger: orders.idempotency_key is unique, so an order applied twice
// can only be applied twice under two keys, and one under a key the client never sent (or none) is
// "unexplained": its stock balances, so only this check sees it.
import type { MessageQueue, MessageState } from '../services/queue/message-queue.ts';
import type { Queryable } from '../shop/database/queryable.ts';
import { KEY_REUSED_REASON, SEED_PRODUCTS } from '../shop/schema.ts';
import type { LedgerEntry } from './ledger.ts';

/** Where the database stood before the run: what the audit compares against. */
export interface AuditBaseline {
  /** Stock of every product before the run. */
  stock: Map<number, number>;
  /** The highest order id before the run (orders after it belong to the run). */
  maxOrderId: number;
}

/** What the audit asks the queue about the 202s it cannot find in the database. */
export type QueueLookup = Pick<MessageQueue, 'stateOfKey' | 'deadLetters'>;

/** A 202 whose order the recovery worker applied and the database refused: final, with its reason. */
export interface RejectedAfterAcceptance {
  key: string;
  /** place_order's answer: 404 (no such product), 409 (insufficient stock), 422 (key reused). */
  status: number;
  reason: string;
}

/** The audit's verdict. */
export interface AuditResult {
  /** Writes the client was told succeeded (201) or were queued (202). */
  acknowledged: number;
  /** Acknowledged writes that ended nowhere: a 201 with no order, a 202 neither committed, rejected, dead-lettered nor still queued. */
  lost: number;
  /** Keys with more than one order. */
  duplicated: number;
  /** Orders present although the client was told a definite failure (4xx): phantoms. */
  phantom: number;
  /**
   * Ambiguous answers (timeouts, 5xx), resolved by key: committed, not committed, or neither yet:
   * their message is still queued (or in flight) or dead-lettered (a send whose answer was lost).
   */
  ambiguous: { committed: number; notCommitted: number; stillQueued: number; deadLettered: number };
  /**
   * Orders of the run (id above the baseline's) under no key the client sent (or none): the shop
   * applied something nobody asked for, or applied an order twice under a second key. Their stock
   * balances; only this count sees them. The shop's own keys (`chaos-lab-retry:`,
   * `chaos-lab-queued:`) appear only for orders sent without a key, and the traffic generator
   * always sends one.
   */
  unexplained: number;
  /** Stock taken during the run equals the quantities of the run's orders, for every product. */
  stockConserved: boolean;
  /** Writes answered 202 (accepted into the write buffer). */
  queued: number;
  /** 202s that ended committed (exactly one order with their key). */
  committedFromQueue: number;
  /** 202s the database refused when the worker applied them (the customer learns it from the follow-up endpoint). */
  rejectedAfterAcceptance: number;
  /** The rejections by reason ("insufficient stock": 3). */
  rejectedReasons: Record<string, number>;
  /** 202s whose message is on the dead-letter queue: not lost (durable, redrivable), not applied either. */
  deadLettered: number;
  /** 202s whose message was still queued or in flight when the audit ran (its wait for the queue ended first). */
  stillQueued: number;
  /** The keys behind each finding, to look at. */
  details: {
    lost: string[];
    duplicated: string[];
    phantom: string[];
    stockMismatch: Array<{ productId: number; taken: number; ordered: number }>;
    rejectedAfterAcceptance: RejectedAfterAcceptance[];
    deadLettered: Array<{ key: string; reason: string }>;
    stillQueued: string[];
    unexplained: Array<{ orderId: number; key: string | null; productId: number; quantity: number }>;
    /** Ambiguous answers whose message is still in the queue (queued, in flight or dead-lettered). */
    ambiguousInQueue: Array<{ key: string; state: MessageState }>;
  };
}

/** Whether the shop's tables exist yet: a run whose instances create them (init-race) may end without them. */
async function shopTablesExist(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ orders: string | null; keys: string | null }>("SELECT to_regclass('orders')::text AS orders, to_regclass('idempotency_keys')::text AS keys");
  return rows[0]?.orders != null && rows[0]?.keys != null;
}

/**
 * Reads the baseline before a run. A database the instances have not created yet (init-race) starts
 * as they will seed it: the catalogue's stock, no orders.
 */
export async function auditBaseline(db: Queryable): Promise<AuditBaseline> {
  if (!(await shopTablesExist(db))) return { stock: new Map(SEED_PRODUCTS.map((p) => [p.id, p.stock])), maxOrderId: 0 };
  const products = await db.query<{ id: number; stock: number }>('SELECT id, stock FROM products');
  const { rows } = await db.query<{ max: number | null }>('SELECT max(id) AS max FROM orders');
  return { stock: new Map(products.rows.map((p) => [p.id, p.stock])), maxOrderId: rows[0]?.max ?? 0 };
}

function emptyResult(): AuditResult {
  return {
    acknowledged: 0,
    lost: 0,
    duplicated: 0,
    phantom: 0,
    ambiguous: { committed: 0, notCommitted: 0, stillQueued: 0, deadLettered: 0 },
    unexplained: 0,
    stockConserved: true,
    queued: 0,
    committedFromQueue: 0,
    rejectedAfterAcceptance: 0,
    rejectedReasons: {},
    deadLettered: 0,
    stillQueued: 0,
    details: { lost: [], duplicated: [], phantom: [], stockMismatch: [], rejectedAfterAcceptance: [], deadLettered: [], stillQueued: [], unexplained: [], ambiguousInQueue: [] },
  };
}

/** The reason in place_order's answer body: its error, else its code, else the status. */
function reasonOf(status: number, body: string): string {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    if (typeof parsed['error'] === 'string') return parsed['error'];
    if (typeof parsed['code'] === 'string') return parsed['code'];
  } catch {
    // not JSON: the status says it
  }
  return `HTTP ${status}`;
}

// The queue is asked about each key on its own (stateOfKey); a handful at a time keeps the
// store's small pool free for the worker.
const LOOKUPS_AT_ONCE = 8;

async function statesOf(queue: QueueLookup, keys: string[]): Promise<Map<string, MessageState | undefined>> {
  const states = new Map<string, MessageState | undefined>();
  for (let i = 0; i < keys.length; i += LOOKUPS_AT_ONCE) {
    const batch = keys.slice(i, i + LOOKUPS_AT_ONCE);
    const found = await Promise.all(batch.map((key) => queue.stateOfKey(key)));
    batch.forEach((key, j) => states.set(key, found[j]));
  }
  return states;
}

/** A 202 that is in no order of its own: what the database recorded against it, if anything. */
interface Unsettled {
  key: string;
  /** place_order's final answer to this very order: its recorded rejection (404, 409), or the 422 of a reused key. */
  rejection?: { status: number; reason: string };
}

/** A key's first answer as place_order recorded it (idempotency_keys). */
interface KeyRow {
  productId: number;
  quantity: number;
  status: number;
  body: string;
}

/** The idempotency_keys rows of these keys. */
async function keyRowsOf(db: Queryable, keys: string[]): Promise<Map<string, KeyRow>> {
  if (keys.length === 0) return new Map();
  const { rows } = await db.query<{ key: string; product_id: number; quantity: number; status: number; body: string }>(
    'SELECT key, product_id, quantity, http_status AS status, body::text AS body FROM idempotency_keys WHERE key = ANY($1::text[])',
    [keys],
  );
  return new Map(rows.map((row) => [row.key, { productId: row.product_id, quantity: row.quantity, status: row.status, body: row.body }]));
}

const orderId = (key: string, productId: number, quantity: number): string => JSON.stringify([key, productId, quantity]);

/** The orders place_order refused for reusing one of these keys (key_conflicts), by orderId; none on a database from before that table. */
async function keyConflictsOf(db: Queryable, keys: string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const { rows: exists } = await db.query<{ table: string | null }>("SELECT to_regclass('key_conflicts')::text AS table");
  if (exists[0]?.table == null) return new Set();
  const { rows } = await db.query<{ key: string; product_id: number; quantity: number }>('SELECT key, product_id, quantity FROM key_conflicts WHERE key = ANY($1::text[])', [keys]);
  return new Set(rows.map((row) => orderId(row.key, row.product_id, row.quantity)));
}

/**
 * What the database recorded against each 202 that has no order of its own. Its key's row is its
 * own answer when the row is for the same product and quantity (a 404 or 409: rejected with that
 * reason). A row for a different order means the key was reused: the 202's order was refused with
 * 422 when the worker applied it, final, if place_order recorded that refusal (key_conflicts);
 * until then it is not settled (still queued, dead-lettered, or lost).
 */
async function recordedAgainst(db: Queryable, entries: LedgerEntry[]): Promise<Unsettled[]> {
  const keys = [...new Set(entries.map((entry) => entry.key))];
  const [keyRows, conflicts] = await Promise.all([keyRowsOf(db, keys), keyConflictsOf(db, keys)]);
  return entries.map((entry): Unsettled => {
    const row = keyRows.get(entry.key);
    if (row === undefined) return { key: entry.key };
    if (row.productId === entry.productId && row.quantity === entry.quantity) {
      return REJECTIONS.has(row.status) ? { key: entry.key, rejection: { status: row.status, reason: reasonOf(row.status, row.body) } } : { key: entry.key };
    }
    return conflicts.has(orderId(entry.key, entry.productId, entry.quantity)) ? { key: entry.key, rejection: { status: 422, reason: KEY_REUSED_REASON } } : { key: entry.key };
  });
}

// place_order's business rejections: final answers, never retried.
const REJECTIONS = new Set([404, 409, 422]);

/**
 * Where each 202 that is in no order of its own ended: rejected by place_order (its recorded
 * rejection), dead-lettered or still queued (the queue), or nowhere: lost. Without a queue to
 * ask, a 202 neither committed nor rejected is lost.
 */
async function settleQueued(unsettled: Unsettled[], queue: QueueLookup | undefined, result: AuditResult): Promise<void> {
  const rest = [...new Set(unsettled.filter((u) => u.rejection === undefined).map((u) => u.key))];
  const states = queue ? await statesOf(queue, rest) : new Map<string, MessageState | undefined>();
  const anyDead = [...states.values()].includes('dead-letter');
  const deadLetterReasons = anyDead && queue ? new Map((await queue.deadLetters(10_000)).map((d) => [d.key, d.reason])) : new Map<string | null, string>();
  for (const { key, rejection } of unsettled) {
    if (rejection) {
      result.rejectedAfterAcceptance++;
      result.rejectedReasons[rejection.reason] = (result.rejectedReasons[rejection.reason] ?? 0) + 1;
      result.details.rejectedAfterAcceptance.push({ key, status: rejection.status, reason: rejection.reason });
      continue;
    }
    const state = states.get(key);
    if (state === 'dead-letter') {
      result.deadLettered++;
      result.details.deadLettered.push({ key, reason: deadLetterReasons.get(key) ?? 'unknown' });
    } else if (state === 'queued' || state === 'in-flight') {
      result.stillQueued++;
      result.details.stillQueued.push(key);
    } else {
      result.lost++;
      result.details.lost.push(key);
    }
  }
}

/**
 * Ambiguous answers (a timeout, a 5xx) with no order under their key: not committed, unless the
 * shop's send to the queue went through although the answer did not (its message is still
 * queued, in flight or dead-lettered: the order may yet be applied).
 */
async function settleAmbiguous(keys: string[], queue: QueueLookup | undefined, result: AuditResult): Promise<void> {
  const states = queue ? await statesOf(queue, [...new Set(keys)]) : new Map<string, MessageState | undefined>();
  for (const key of keys) {
    const state = states.get(key);
    if (state === undefined) {
      result.ambiguous.notCommitted++;
      continue;
    }
    if (state === 'dead-letter') result.ambiguous.deadLettered++;
    else result.ambiguous.stillQueued++;
    result.details.ambiguousInQueue.push({ key, state });
  }
}

/**
 * Checks what the client was told against what the database holds; `queue` (the write buffer's)
 * is asked where the 202s that are not in the database are. Call it once the queue is idle: a
 * message still being applied shows as still queued.
 */
export async function auditOrders(db: Queryable, ledger: readonly LedgerEntry[], baseline: AuditBaseline, queue?: QueueLookup): Promise<AuditResult> {
  const result = emptyResult();
  // No tables: the instances never created them (init-race's BEFORE), so no order was ever written.
  const tables = await shopTablesExist(db);
  // The orders under each key, by product and quantity: an entry's own order is the one under its
  // key for its product and quantity. Two orders sent with one key share the key, and only the first
  // is placed: counting the key's order for the second would call a refused order committed.
  const ordersByKey = new Map<string, Array<{ productId: number; quantity: number; orders: number }>>();
  if (tables) {
    const { rows } = await db.query<{ key: string; product_id: number; quantity: number; orders: number }>(
      'SELECT idempotency_key AS key, product_id, quantity, count(*)::int AS orders FROM orders WHERE idempotency_key = ANY($1::text[]) GROUP BY 1, 2, 3',
      [ledger.map((entry) => entry.key)],
    );
    for (const row of rows) ordersByKey.set(row.key, [...(ordersByKey.get(row.key) ?? []), { productId: row.product_id, quantity: row.quantity, orders: row.orders }]);
  }
  const unsettled: LedgerEntry[] = [];
  const ambiguousUncommitted: string[] = [];
  for (const entry of ledger) {
    const underKey = ordersByKey.get(entry.key) ?? [];
    if (underKey.reduce((sum, o) => sum + o.orders, 0) > 1) {
      result.duplicated++;
      result.details.duplicated.push(entry.key);
    }
    const orders = underKey.filter((o) => o.productId === entry.productId && o.quantity === entry.quantity).reduce((sum, o) => sum + o.orders, 0);
    if (entry.status === 201 || entry.status === 202) {
      result.acknowledged++;
      if (entry.status === 202) {
        result.queued++;
        if (orders > 0) result.committedFromQueue++;
        else unsettled.push(entry);
      } else if (orders === 0) {
        result.lost++;
        result.details.lost.push(entry.key);
      }
    } else if (entry.status === 0 || entry.status >= 500) {
      if (orders > 0) result.ambiguous.committed++;
      else ambiguousUncommitted.push(entry.key);
    } else if (orders > 0) {
      result.phantom++;
      result.details.phantom.push(entry.key);
    }
  }
  await settleQueued(tables ? await recordedAgainst(db, unsettled) : unsettled.map((entry) => ({ key: entry.key })), queue, result);
  await settleAmbiguous(ambiguousUncommitted, queue, result);
  if (!tables) return result; // no order, no stock taken: conserved
  const { rows: unexplained } = await db.query<{ id: number; key: string | null; product_id: number; quantity: number }>(
    `SELECT id, idempotency_key AS key, product_id, quantity FROM orders
     WHERE id > $1 AND (idempotency_key IS NULL OR NOT (idempotency_key = ANY($2::text[])))
     ORDER BY id`,
    [baseline.maxOrderId, [...new Set(ledger.map((entry) => entry.key))]],
  );
  result.unexplained = unexplained.length;
  result.details.unexplained = unexplained.map((row) => ({ orderId: Number(row.id), key: row.key, productId: row.product_id, quantity: row.quantity }));
  // Stock conservation over every order of the run, whoever placed it (the shop or the worker).
  const current = await db.query<{ id: number; stock: number; ordered: number }>(
    `SELECT p.id, p.stock, COALESCE(sum(o.quantity), 0)::int AS ordered
     FROM products p LEFT JOIN orders o ON o.product_id = p.id AND o.id > $1
     GROUP BY p.id, p.stock`,
    [baseline.maxOrderId],
  );
  for (const row of current.rows) {
    const taken = (baseline.stock.get(row.id) ?? row.stock) - row.stock;
    if (taken !== row.ordered) {
      result.stockConserved = false;
      result.details.stockMismatch.push({ productId: row.id, taken, ordered: row.ordered });
    }
  }
  return result;
}
