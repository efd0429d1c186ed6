import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALB_HEALTH_CHECK_DEFAULTS as S, inRotation, initialHealth, recordHealthCheck, recordRequest, type TargetHealth } from './target-health.ts';

function run(health: TargetHealth, results: boolean[], start: number) {
  const changes = [];
  let now = start;
  for (const ok of results) {
    now += S.intervalMs;
    const next = recordHealthCheck(health, ok, S, now);
    health = next.health;
    if (next.change) changes.push(next.change);
  }
  return { health, changes };
}

describe('target health (ALB state machine, fake clock)', () => {
  it('a new target becomes healthy after 2 passing checks', () => {
    const { health, changes } = run(initialHealth(0), [true, true], 0);
    assert.equal(health.state, 'healthy');
    assert.deepEqual(changes.map((c) => [c.from, c.to, c.at]), [['initial', 'healthy', 20_000]]);
  });

  it('a healthy target leaves rotation after 3 consecutive failures: the detection window', () => {
    const healthy = run(initialHealth(0), [true, true], 0).health;
    const after2 = run(healthy, [false, false], 20_000).health;
    assert.equal(after2.state, 'healthy', 'two failures are not enough');
    assert.ok(inRotation(after2, 40_000));
    const { health, changes } = run(after2, [false], 40_000);
    assert.equal(health.state, 'unhealthy');
    assert.equal(changes[0]?.at, 50_000, 'taken out 3 intervals after the first failed check');
    assert.equal(inRotation(health, 50_000), false);
  });

  it('a success in between resets the failure count', () => {
    const healthy = run(initialHealth(0), [true, true], 0).health;
    const { health } = run(healthy, [false, false, true, false, false], 20_000);
    assert.equal(health.state, 'healthy');
  });

  it('an unhealthy target returns after 2 passing checks', () => {
    const unhealthy = run(run(initialHealth(0), [true, true], 0).health, [false, false, false], 20_000).health;
    const { health, changes } = run(unhealthy, [true, true], 50_000);
    assert.equal(health.state, 'healthy');
    assert.deepEqual(changes.map((c) => [c.from, c.to]), [['unhealthy', 'healthy']]);
  });

  it('passive ejection takes a target out after consecutive failed requests, for a while', () => {
    let health = run(initialHealth(0), [true, true], 0).health;
    const ejection = { consecutiveFailures: 1, durationMs: 30_000 };
    health = recordRequest(health, false, ejection, 21_000);
    assert.equal(inRotation(health, 21_000), false);
    assert.equal(inRotation(health, 51_000), true, 'back after the ejection time');
    health = recordRequest(health, true, ejection, 52_000);
    assert.equal(health.requestFailures, 0);
  });

  it('without passive ejection, failed requests do not take a target out', () => {
    const healthy = run(initialHealth(0), [true, true], 0).health;
    assert.ok(inRotation(recordRequest(healthy, false, undefined, 21_000), 21_000));
  });
});
