// The follow-up's reading of an order request row (the statement itself runs against a real
// database in test/shop-degradation-orders.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conflictsOf, orderRequestStatus } from './order-request.ts';

describe('orderRequestStatus', () => {
  it('reads the first answer as confirmed or rejected, and lists the orders refused for reusing the key', () => {
    const confirmed = orderRequestStatus({
      http_status: 201,
      body: '{"order_id":7,"product_id":1,"quantity":2}',
      conflicts: '[{"product_id":3,"quantity":1,"created_at":"2026-11-30 18:00:00.000001"}]',
    });
    assert.equal(confirmed.status, 'confirmed');
    assert.deepEqual(conflictsOf(confirmed), [
      {
        product_id: 3,
        quantity: 1,
        status: 'rejected',
        http_status: 422,
        code: 'IDEMPOTENCY_KEY_REUSED',
        reason: 'Idempotency-Key was already used for a different order',
        created_at: '2026-11-30 18:00:00.000001',
      },
    ]);
    const rejected = orderRequestStatus({ http_status: 409, body: '{"error":"insufficient stock","available":0,"requested":1}', conflicts: '[]' });
    assert.deepEqual(rejected, { status: 'rejected', httpStatus: 409, reason: 'insufficient stock', answer: { error: 'insufficient stock', available: 0, requested: 1 } });
    assert.deepEqual(conflictsOf(rejected), []);
  });
});
