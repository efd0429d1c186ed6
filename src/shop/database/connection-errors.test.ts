import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isConnectionError } from './connection-errors.ts';

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('isConnectionError', () => {
  const cases: Array<[string, unknown, boolean]> = [
    ['connection refused', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'), true],
    ['connection reset', withCode('read ECONNRESET', 'ECONNRESET'), true],
    ['server shutting down (57P01)', withCode('terminating connection due to administrator command', '57P01'), true],
    ['server starting up (57P03)', withCode('the database system is starting up', '57P03'), true],
    ['write on a read-only server (25006)', withCode('cannot execute INSERT in a read-only transaction', '25006'), true],
    ['connection exception class 08', withCode('connection failure', '08006'), true],
    ['driver: terminated', new Error('Connection terminated unexpectedly'), true],
    ['driver: dead client', new Error('Client has encountered a connection error and is not queryable'), true],
    ['driver: connect timeout', new Error('timeout exceeded when trying to connect'), true],
    ['syntax error (42601)', withCode('syntax error at or near "SELEC"', '42601'), false],
    ['check violation (23514)', withCode('new row violates check constraint', '23514'), false],
    ['not an error', 'ECONNREFUSED', false],
  ];
  for (const [name, error, expected] of cases) {
    it(`${name}: ${expected ? 'retryable' : 'not retryable'}`, () => {
      assert.equal(isConnectionError(error), expected);
    });
  }
});
