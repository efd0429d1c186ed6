import type { Queryable } from './database/queryable.ts';

/** The ten products of Article 1: explicit ids so every instance seeds the same catalogue. */
export const SEED_PRODUCTS: ReadonlyArray<{ id: number; name: string; price: number; stock: number }> = [
  { id: 1, name: 'Wireless Keyboard', price: 49.99, stock: 100 },
  { id: 2, name: 'USB-C Hub', price: 34.99, stock: 150 },
  { id: 3, name: 'Mechanical Keyboard', price: 129.99, stock: 50 },
  { id: 4, name: '27-inch Monitor', price: 349.99, stock: 30 },
  { id: 5, name: 'Webcam HD', price: 79.99, stock: 80 },
  { id: 6, name: 'Laptop Stand', price: 44.99, stock: 120 },
  { id: 7, name: 'Noise-Canceling Headphones', price: 199.99, stock: 40 },
  { id: 8, name: 'Portable SSD 1TB', price: 89.99, stock: 90 },
  { id: 9, name: 'Ergonomic Mouse', price: 59.99, stock: 110 },
  { id: 10, name: 'USB Microphone', price: 69.99, stock: 70 },
];

/** place_order's answer (422 IDEMPOTENCY_KEY_REUSED) to an order whose key was already used for a different one. */
export const KEY_REUSED_REASON = 'Idempotency-Key was already used for a different order';

// Any constant works; it only has to be the same for every instance so that concurrent
// initialisations run one after the other (CREATE TABLE IF NOT EXISTS alone races on pg_type).
const INIT_LOCK_KEY = 0x0c4a05;

const TABLES = `
CREATE TABLE IF NOT EXISTS products (
  id SERIAL PRIMARY KEY,
  name VARCHAR(100) NOT NULL UNIQUE,
  price DECIMAL(10,2) NOT NULL,
  stock INTEGER NOT NULL DEFAULT 0 CHECK (stock >= 0)
);
CREATE TABLE IF NOT EXISTS orders (
  id SERIAL PRIMARY KEY,
  product_id INTEGER REFERENCES products(id),
  quantity INTEGER NOT NULL,
  total DECIMAL(10,2) NOT NULL,
  status VARCHAR(20) DEFAULT 'pending',
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  idempotency_key TEXT UNIQUE
);
-- The first answer given for each Idempotency-Key, replayed to every duplicate.
CREATE TABLE IF NOT EXISTS idempotency_keys (
  key TEXT PRIMARY KEY,
  product_id INTEGER NOT NULL,
  quantity INTEGER NOT NULL,
  http_status INTEGER NOT NULL,
  body JSON NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
-- Orders refused because their Idempotency-Key was already used for a different order (place_order's 422).
-- idempotency_keys keeps only a key's first answer, so without this table a queued order the worker was
-- refused for its key would leave no trace: the follow-up would show the earlier order as confirmed. One
-- row per distinct order: a redelivered message repeats the same refusal, which is the same request.
CREATE TABLE IF NOT EXISTS key_conflicts (
  key TEXT NOT NULL,
  product_id INTEGER NOT NULL,
  quantity INTEGER NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (key, product_id, quantity)
);
`;

// The order transaction of Article 1 as one server-side function, so that an order costs one
// round trip instead of five (BEGIN, SELECT FOR UPDATE, UPDATE, INSERT, COMMIT) and no
// connection is ever left holding an open transaction by a client that went away. The
// function body runs in the caller's single-statement transaction: any error rolls all of it
// back, so there is never a stock change without its order.
//
// Idempotency: a transaction-scoped advisory lock on the key serialises duplicates, on any
// instance; the second one waits, then sees the first one's committed answer and replays it.
const PLACE_ORDER = `
CREATE OR REPLACE FUNCTION place_order(p_product_id INTEGER, p_quantity INTEGER, p_key TEXT, p_served_by TEXT)
RETURNS TABLE (http_status INTEGER, body TEXT, replayed BOOLEAN)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_product RECORD;
  v_previous RECORD;
  v_order RECORD;
  v_status INTEGER;
  v_body JSON;
BEGIN
  IF p_key IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_key, 0));
    SELECT k.product_id, k.quantity, k.http_status, k.body INTO v_previous FROM idempotency_keys k WHERE k.key = p_key;
    IF FOUND THEN
      IF v_previous.product_id <> p_product_id OR v_previous.quantity <> p_quantity THEN
        INSERT INTO key_conflicts (key, product_id, quantity) VALUES (p_key, p_product_id, p_quantity) ON CONFLICT DO NOTHING;
        RETURN QUERY SELECT 422, row_to_json(t)::text, FALSE FROM (SELECT
          ${literal(KEY_REUSED_REASON)} AS error,
          'IDEMPOTENCY_KEY_REUSED' AS code,
          v_previous.product_id AS original_product_id,
          v_previous.quantity AS original_quantity) t;
      ELSE
        RETURN QUERY SELECT v_previous.http_status, v_previous.body::text, TRUE;
      END IF;
      RETURN;
    END IF;
  END IF;

  SELECT p.id, p.name, p.price, p.stock INTO v_product FROM products p WHERE p.id = p_product_id FOR UPDATE;
  IF NOT FOUND THEN
    v_status := 404;
    SELECT row_to_json(t) INTO v_body FROM (SELECT 'product not found' AS error, 'PRODUCT_NOT_FOUND' AS code, p_product_id AS product_id) t;
  ELSIF v_product.stock < p_quantity THEN
    v_status := 409;
    SELECT row_to_json(t) INTO v_body FROM (SELECT 'insufficient stock' AS error, v_product.stock AS available, p_quantity AS requested) t;
  ELSE
    UPDATE products SET stock = stock - p_quantity WHERE id = p_product_id;
    INSERT INTO orders (product_id, quantity, total, status, idempotency_key)
      VALUES (p_product_id, p_quantity, round(v_product.price * p_quantity, 2), 'confirmed', p_key)
      RETURNING id, total, status, created_at INTO v_order;
    v_status := 201;
    SELECT row_to_json(t) INTO v_body FROM (SELECT
      v_order.id AS order_id,
      p_product_id AS product_id,
      v_product.name AS product_name,
      p_quantity AS quantity,
      v_order.total AS total,
      v_order.status AS status,
      to_char(v_order.created_at, 'YYYY-MM-DD HH24:MI:SS.US') AS created_at,
      p_served_by AS served_by) t;
  END IF;

  IF p_key IS NOT NULL THEN
    INSERT INTO idempotency_keys (key, product_id, quantity, http_status, body)
      VALUES (p_key, p_product_id, p_quantity, v_status, v_body);
  END IF;
  RETURN QUERY SELECT v_status, v_body::text, FALSE;
END
$fn$;
`;

function literal(value: string | number): string {
  return typeof value === 'number' ? String(value) : `'${value.replaceAll("'", "''")}'`;
}

/**
 * Creates the tables and the order function and seeds the ten products, in one transaction
 * that holds an advisory lock: idempotent, and safe when several instances run it at once.
 * Run it on a connection of its own: a failure leaves that connection in an aborted transaction.
 */
export async function initSchema(db: Queryable): Promise<void> {
  const rows = SEED_PRODUCTS.map((p) => `(${[p.id, p.name, p.price, p.stock].map(literal).join(', ')})`);
  // One multi-statement text (it cannot take parameters; the seed values are our constants).
  await db.query(`
    BEGIN;
    SELECT pg_advisory_xact_lock(${INIT_LOCK_KEY});
    ${TABLES}
    ${PLACE_ORDER}
    INSERT INTO products (id, name, price, stock) VALUES ${rows.join(', ')} ON CONFLICT (id) DO NOTHING;
    SELECT setval('products_id_seq', GREATEST(10, (SELECT max(id) FROM products)));
    COMMIT;`);
}
