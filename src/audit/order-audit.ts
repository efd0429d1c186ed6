import type { Queryable } from '../shop/database/queryable.ts';
import type { LedgerEntry } from './ledger.ts';

/** Where the database stood before the run: what the audit compares against. */
export interface AuditBaseline {
  /** Stock of every product before the run. */
  stock: Map<number, number>;
  /** The highest order id before the run (orders after it belong to the run). */
  maxOrderId: number;
}

/** The audit's verdict. */
export interface AuditResult {
  /** Writes the client was told succeeded (201) or were queued (202). */
  acknowledged: number;
  /** Acknowledged writes with no order in the database: orders lost. */
  lost: number;
  /** Keys with more than one order. */
  duplicated: number;
  /** Orders present although the client was told a definite failure (4xx): phantoms. */
  phantom: number;
  /** Ambiguous answers (timeouts, 5xx), resolved by key: committed or not. */
  ambiguous: { committed: number; notCommitted: number };
  /** Stock taken during the run equals the quantities of the run's orders, for every product. */
  stockConserved: boolean;
  /** The keys behind each finding, to look at. */
  details: { lost: string[]; duplicated: string[]; phantom: string[]; stockMismatch: Array<{ productId: number; taken: number; ordered: number }> };
}

/** Reads the baseline before a run. */
export async function auditBaseline(db: Queryable): Promise<AuditBaseline> {
  const products = await db.query<{ id: number; stock: number }>('SELECT id, stock FROM products');
  const { rows } = await db.query<{ max: number | null }>('SELECT max(id) AS max FROM orders');
  return { stock: new Map(products.rows.map((p) => [p.id, p.stock])), maxOrderId: rows[0]?.max ?? 0 };
}

/** Checks what the client was told against what the database holds. */
export async function auditOrders(db: Queryable, ledger: readonly LedgerEntry[], baseline: AuditBaseline): Promise<AuditResult> {
  const keys = ledger.map((entry) => entry.key);
  const { rows } = await db.query<{ key: string; orders: number }>(
    'SELECT idempotency_key AS key, count(*)::int AS orders FROM orders WHERE idempotency_key = ANY($1::text[]) GROUP BY 1',
    [keys],
  );
  const ordersByKey = new Map(rows.map((row) => [row.key, row.orders]));
  const result: AuditResult = {
    acknowledged: 0,
    lost: 0,
    duplicated: 0,
    phantom: 0,
    ambiguous: { committed: 0, notCommitted: 0 },
    stockConserved: true,
    details: { lost: [], duplicated: [], phantom: [], stockMismatch: [] },
  };
  for (const entry of ledger) {
    const orders = ordersByKey.get(entry.key) ?? 0;
    if (orders > 1) {
      result.duplicated++;
      result.details.duplicated.push(entry.key);
    }
    if (entry.status === 201 || entry.status === 202) {
      result.acknowledged++;
      // A 202 (queued) may not be in the database yet: the recovery worker's audit is its own.
      if (orders === 0 && entry.status === 201) {
        result.lost++;
        result.details.lost.push(entry.key);
      }
    } else if (entry.status === 0 || entry.status >= 500) {
      if (orders > 0) result.ambiguous.committed++;
      else result.ambiguous.notCommitted++;
    } else if (orders > 0) {
      result.phantom++;
      result.details.phantom.push(entry.key);
    }
  }
  // Stock conservation over every order of the run, whoever placed it.
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
