import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDatabaseUrl } from './config.ts';

describe('parseDatabaseUrl', () => {
  it('reads the password from the URL', () => {
    assert.deepEqual(parseDatabaseUrl('postgresql://postgres:s3cret@127.0.0.1:5433/shop'), {
      host: '127.0.0.1',
      port: 5433,
      database: 'shop',
      user: 'postgres',
      password: 's3cret',
    });
  });

  it('refuses a bad URL without echoing it: it may carry the password', () => {
    // Regression: the message quoted the whole URL, so the password reached the instance's stderr.
    for (const url of ['postgresql://postgres:s3cret@[bad/shop', 'mysql://postgres:s3cret@127.0.0.1/shop']) {
      assert.throws(() => parseDatabaseUrl(url), (error: Error) => {
        assert.doesNotMatch(error.message, /s3cret/);
        assert.match(error.message, /database URL/);
        return true;
      });
    }
  });
});
