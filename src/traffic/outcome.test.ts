import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyRead, classifyWrite } from './outcome.ts';

describe('outcome classification (as the articles count)', () => {
  it('reads: 200 is OK, anything else (including a timeout, 0) FAIL', () => {
    assert.deepEqual([200, 500, 502, 504, 0].map(classifyRead), ['ok', 'fail', 'fail', 'fail', 'fail']);
  });
  it('writes: 201 OK, 202 QUEUED, 409 STOCK_OUT (a correct answer), the rest FAIL', () => {
    assert.deepEqual([201, 202, 409, 500, 503, 0, 400].map(classifyWrite), ['ok', 'queued', 'stockOut', 'fail', 'fail', 'fail', 'fail']);
  });
});
