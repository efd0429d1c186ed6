// Where an order request (an idempotency key) stands, read from the database in one statement:
// the key's first answer (idempotency_keys: 201 confirmed with the order, 404/409 rejected with
// the reason) and every later order refused because it reused the key (key_conflicts). The second
// half matters for the write buffer: two orders queued under one key are both answered 202, the
// worker applies the first and is refused the second (422), and without its row here the customer
// following the key would see only the first order, confirmed, and never learn of the refusal.
import type { OrderRequestStatus } from './ports.ts';
import { KEY_REUSED_REASON } from './schema.ts';

/** A later order refused because its Idempotency-Key was already used for a different order. */
export interface KeyConflict {
  product_id: number;
  quantity: number;
  status: 'rejected';
  http_status: 422;
  code: 'IDEMPOTENCY_KEY_REUSED';
  reason: string;
  /** When place_order refused it (database clock, 'YYYY-MM-DD HH24:MI:SS.US'). */
  created_at: string;
}

/** An order request's status together with the orders that were refused for reusing its key. */
export type OrderRequestWithConflicts = OrderRequestStatus & { conflicts?: KeyConflict[] };

/** The row ORDER_REQUEST returns. */
export interface OrderRequestRow {
  http_status: number;
  body: string;
  /** JSON array of { product_id, quantity, created_at }, oldest first ('[]' when none). */
  conflicts: string;
}

/** The key's first answer and its conflicts; no row when the database does not know the key. Run it on the writer. */
export const ORDER_REQUEST = `
  SELECT k.http_status, k.body::text AS body,
         COALESCE((SELECT json_agg(json_build_object(
                     'product_id', c.product_id, 'quantity', c.quantity,
                     'created_at', to_char(c.created_at, 'YYYY-MM-DD HH24:MI:SS.US')) ORDER BY c.created_at, c.product_id, c.quantity)
                   FROM key_conflicts c WHERE c.key = k.key), '[]')::text AS conflicts
  FROM idempotency_keys k WHERE k.key = $1`;

/** The recorded first answer for a key, as a request status: 201 confirmed, anything else a rejection with its reason. */
function requestStatus(httpStatus: number, bodyText: string): OrderRequestStatus {
  const answer = JSON.parse(bodyText) as Record<string, unknown>;
  if (httpStatus === 201) return { status: 'confirmed', order: answer };
  const reason = typeof answer['error'] === 'string' ? answer['error'] : `answered ${httpStatus}`;
  return { status: 'rejected', httpStatus, reason, answer };
}

/** ORDER_REQUEST's row as a request status, with its conflicts when there are any. */
export function orderRequestStatus(row: OrderRequestRow): OrderRequestWithConflicts {
  const status = requestStatus(row.http_status, row.body);
  const recorded = JSON.parse(row.conflicts) as Array<{ product_id: number; quantity: number; created_at: string }>;
  if (recorded.length === 0) return status;
  const conflicts = recorded.map((c): KeyConflict => ({
    product_id: c.product_id,
    quantity: c.quantity,
    status: 'rejected',
    http_status: 422,
    code: 'IDEMPOTENCY_KEY_REUSED',
    reason: KEY_REUSED_REASON,
    created_at: c.created_at,
  }));
  return { ...status, conflicts };
}

/** The conflicts of a request status that came from orderRequestStatus (none otherwise). */
export function conflictsOf(found: OrderRequestStatus): KeyConflict[] {
  return (found as OrderRequestWithConflicts).conflicts ?? [];
}
