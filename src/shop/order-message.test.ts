import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OrderMessageError, orderMessageBody, parseOrderMessage } from './order-message.ts';

const good = { key: 'chaos-lab-queued:3f0c', product_id: 7, quantity: 2, served_by: 'i-1', accepted_at: '2026-11-30T18:00:00.123Z' };

function refused(body: string, pattern: RegExp): void {
  assert.throws(() => parseOrderMessage(body), (error: unknown) => error instanceof OrderMessageError && pattern.test(error.message));
}

describe('parseOrderMessage', () => {
  it('reads back the body the shop writes', () => {
    assert.deepEqual(parseOrderMessage(orderMessageBody(good)), good);
  });

  it('refuses a body that is not JSON, or not an object, naming it', () => {
    refused('not json', /not JSON: "not json"/);
    refused('[1,2]', /must be a JSON object, got an array of 2 items/);
    refused('null', /must be a JSON object, got null/);
  });

  it('refuses each bad field by name and value', () => {
    refused(JSON.stringify({ ...good, key: '' }), /key must be a string of 1 to 255 characters, got ""/);
    refused(JSON.stringify({ ...good, key: 'a'.repeat(256) }), /key must be a string of 1 to 255/);
    refused(JSON.stringify({ ...good, key: 'has space' }), /key must be visible ASCII/);
    refused(JSON.stringify({ ...good, product_id: 0 }), /product_id must be an integer between 1 and 2147483647, got 0/);
    refused(JSON.stringify({ ...good, product_id: '7' }), /product_id must be an integer .* got "7"/);
    refused(JSON.stringify({ ...good, quantity: 1001 }), /quantity must be an integer between 1 and 1000, got 1001/);
    refused(JSON.stringify({ ...good, quantity: 1.5 }), /quantity must be an integer/);
    refused(JSON.stringify({ ...good, served_by: 3 }), /served_by must be a string/);
    refused(JSON.stringify({ ...good, accepted_at: 'yesterday' }), /accepted_at must be an ISO 8601 time, got "yesterday"/);
    refused(JSON.stringify({ ...good, accepted_at: '2026-13-45T99:00:00Z' }), /accepted_at must be an ISO 8601 time/);
    refused(JSON.stringify({ ...good, quantity: undefined }), /quantity must be an integer .* got nothing/);
  });

  it('refuses unknown fields, a __proto__ key among them', () => {
    refused(JSON.stringify({ ...good, extra: 1 }), /unknown field "extra"/);
    refused(`{"__proto__":{"x":1},${JSON.stringify(good).slice(1)}`, /unknown field "__proto__"/);
  });

  it('refuses a huge body without parsing it', () => {
    refused(`"${'x'.repeat(10_000)}"`, /10002 characters, more than 4096/);
  });
});
