// Which parts of the services store a lab's patterns use: what decides whether the read cache,
// the order queue and the shared breaker get their listeners.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolvePatterns } from '../shop/patterns.ts';
import { storeUses } from './store-clients.ts';

describe('the parts of the services store the patterns use', () => {
  it('the read cache for a stale fallback too: isolated-stale answers from its last good reviews and banner', () => {
    assert.deepEqual(storeUses(resolvePatterns('isolated-stale')), { sharedBreaker: false, readCache: true, writeBuffer: false });
    assert.deepEqual(storeUses(resolvePatterns('isolated')), { sharedBreaker: false, readCache: false, writeBuffer: false });
    assert.deepEqual(storeUses(resolvePatterns('coupled')), { sharedBreaker: false, readCache: false, writeBuffer: false });
  });

  it('the read cache, the order queue and the shared breaker for Article 4\'s graceful patterns', () => {
    assert.deepEqual(storeUses(resolvePatterns('graceful')), { sharedBreaker: true, readCache: true, writeBuffer: true });
    assert.deepEqual(storeUses(resolvePatterns('resilient')), { sharedBreaker: false, readCache: false, writeBuffer: false });
  });
});
