// The traffic generator and the order-ledger audit, against a real shop on real PostgreSQL,
// and against a deliberately lossy shop that acknowledges orders it never writes.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import pg from 'pg';
import { OrderLedger } from '../src/audit/ledger.ts';
import { auditBaseline, auditOrders } from '../src/audit/order-audit.ts';
import { runTraffic } from '../src/traffic/traffic-generator.ts';
import { within } from './helpers/deadline.ts';
import { startTestShop, usePostgres } from './helpers/lab.ts';

const postgres = usePostgres();

describe('traffic generator and order audit', () => {
  it('counts reads and writes as the articles do, keeps a ledger, and the audit finds nothing lost', async () => {
    const shop = await within(30_000, 'starting the shop', startTestShop(postgres()));
    const db = new pg.Client({ ...shop.config.writer, connectionTimeoutMillis: 10_000, query_timeout: 30_000 });
    try {
      await db.connect();
      const baseline = await auditBaseline(db);
      const ledger = new OrderLedger();
      const statusLines: number[] = [];
      // Article 3's mix, 10× faster, for 1.5 s; Mechanical Keyboard (stock 50) runs out on the way.
      const result = await runTraffic({
        url: shop.url,
        durationMs: 1500,
        readsPerSecond: 30,
        writesPerSecond: 40,
        productId: 3,
        quantity: 1,
        ledger,
        statusEveryMs: 500,
        onStatus: (totals) => statusLines.push(totals.writes.ok),
      });
      assert.ok(result.reads.ok >= 40, `reads ok: ${result.reads.ok}`);
      assert.equal(result.reads.fail, 0);
      assert.equal(result.reads.bySource['database'], result.reads.ok);
      assert.equal(result.writes.ok, 50, 'exactly the stock was sold');
      assert.ok(result.writes.stockOut > 0, 'then 409s, which are not failures');
      assert.equal(result.writes.fail, 0);
      assert.equal(ledger.entries.length, result.writes.ok + result.writes.stockOut);
      assert.ok(result.series.length >= 2, 'a per-second series');
      assert.ok(statusLines.length >= 2, 'STATUS every 500 ms');

      const audit = await auditOrders(db, ledger.entries, baseline);
      assert.deepEqual(
        { acknowledged: audit.acknowledged, lost: audit.lost, duplicated: audit.duplicated, phantom: audit.phantom, stockConserved: audit.stockConserved },
        { acknowledged: 50, lost: 0, duplicated: 0, phantom: 0, stockConserved: true },
      );
    } finally {
      await within(10_000, 'closing the database connection', db.end()).catch(() => {});
      await within(30_000, 'closing the shop', shop.close());
    }
  });

  it('catches a shop that acknowledges orders before (and without) committing them', async () => {
    const shop = await within(30_000, 'starting the shop', startTestShop(postgres()));
    const db = new pg.Client({ ...shop.config.writer, connectionTimeoutMillis: 10_000, query_timeout: 30_000 });
    // Lossy: every third order is answered 201 without ever reaching the database.
    let count = 0;
    const lossy = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      if (request.method === 'POST' && ++count % 3 === 0) {
        response.writeHead(201, { 'content-type': 'application/json' }).end('{"order_id":999999,"status":"confirmed"}');
        return;
      }
      // The honest path: forward to the real shop.
      const answer = await fetch(new URL(request.url ?? '/', shop.url), {
        signal: AbortSignal.timeout(10_000),
        method: request.method,
        headers: { 'content-type': 'application/json', 'idempotency-key': String(request.headers['idempotency-key'] ?? '') },
        body: request.method === 'POST' ? Buffer.concat(chunks) : undefined,
      });
      response.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text());
    });
    try {
      lossy.listen(0, '127.0.0.1');
      await once(lossy, 'listening', { signal: AbortSignal.timeout(5000) });
      const address = lossy.address();
      const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      await db.connect();
      const baseline = await auditBaseline(db);
      const ledger = new OrderLedger();
      const result = await runTraffic({ url, durationMs: 1000, readsPerSecond: 0, writesPerSecond: 12, productId: 1, ledger });
      assert.equal(result.writes.fail, 0, 'the client saw nothing wrong');
      const audit = await auditOrders(db, ledger.entries, baseline);
      assert.ok(audit.lost >= 3, `lost: ${audit.lost}`);
      assert.equal(audit.lost, Math.floor(result.writes.ok / 3));
      assert.equal(audit.details.lost.length, audit.lost);
      assert.equal(audit.stockConserved, true, 'the orders that were written did take their stock');
    } finally {
      lossy.closeAllConnections();
      lossy.close();
      await within(10_000, 'closing the database connection', db.end()).catch(() => {});
      await within(30_000, 'closing the shop', shop.close());
    }
  });

  it('flags phantoms: an order present although the client was told it failed', async () => {
    const shop = await within(30_000, 'starting the shop', startTestShop(postgres()));
    const db = new pg.Client({ ...shop.config.writer, connectionTimeoutMillis: 10_000, query_timeout: 30_000 });
    try {
      await db.connect();
      const baseline = await auditBaseline(db);
      const key = 'told-409-but-written';
      await fetch(`${shop.url}/orders`, { signal: AbortSignal.timeout(10_000), method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: '{"product_id":2,"quantity":1}' });
      const audit = await auditOrders(db, [{ key, productId: 2, quantity: 1, sentAt: 0, answeredAt: 0, status: 409, orderId: null }], baseline);
      assert.equal(audit.phantom, 1);
      assert.deepEqual(audit.details.phantom, [key]);
    } finally {
      await within(10_000, 'closing the database connection', db.end()).catch(() => {});
      await within(30_000, 'closing the shop', shop.close());
    }
  });
});
