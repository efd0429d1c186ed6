import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ShopError } from './errors.ts';
import { describeValue, parseId, parseIdempotencyKey, parseOrderRequest } from './validation.ts';

describe('parseOrderRequest', () => {
  it('accepts integer product_id and quantity, ignoring other fields', () => {
    assert.deepEqual(parseOrderRequest({ product_id: 3, quantity: 2, note: 'gift' }), { productId: 3, quantity: 2 });
  });

  it('names the field and the value it refuses', () => {
    assert.throws(
      () => parseOrderRequest({ product_id: 3, quantity: 1001 }),
      (error: unknown) => error instanceof ShopError && error.statusCode === 400 && /quantity must be between 1 and 1000, got 1001/.test(error.message),
    );
  });
});

describe('parseId', () => {
  it('accepts positive integers that fit INTEGER and refuses the rest', () => {
    assert.equal(parseId('2147483647', 'product'), 2147483647);
    for (const raw of ['0', '-1', '01', '1e3', '2147483648', '', ' 1']) assert.throws(() => parseId(raw, 'product'), ShopError, raw);
  });
});

describe('parseIdempotencyKey', () => {
  it('accepts an absent header or 1 to 255 visible ASCII characters', () => {
    assert.equal(parseIdempotencyKey(undefined), undefined);
    assert.equal(parseIdempotencyKey('order-42:retry'), 'order-42:retry');
    assert.throws(() => parseIdempotencyKey(['a', 'b']), /given once/);
    assert.throws(() => parseIdempotencyKey('é'), /visible ASCII/);
  });
});

describe('describeValue', () => {
  it('names a 5,000-deep array by its type instead of overflowing the stack', () => {
    // The message used JSON.stringify on the bad value, which recurses once per level: a deep body was a 500.
    let deep: unknown = [];
    for (let level = 0; level < 5000; level += 1) deep = [deep];
    assert.equal(describeValue(deep), 'an array of 1 item');
    assert.throws(
      () => parseOrderRequest({ product_id: deep, quantity: 1 }),
      (error: unknown) => error instanceof ShopError && error.statusCode === 400 && /product_id must be an integer, got an array/.test(error.message),
    );
    assert.throws(() => parseOrderRequest(deep), /request body must be a JSON object .*got an array of 1 item/);
  });

  it('previews primitives within 60 characters', () => {
    assert.equal(describeValue('x'.repeat(10_000)).length, 60);
    assert.equal(describeValue(1.5), '1.5');
    assert.equal(describeValue({ n: 1 }), 'an object');
    assert.equal(describeValue(null), 'null');
  });
});
