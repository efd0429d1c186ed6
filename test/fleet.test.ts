// The compute tier on real processes: instances across zones behind the load balancer, the
// detection window when one stops (Article 1), and what retries + ejection do to it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { InstanceGroup, type GroupEvent } from '../src/lab/fleet/instance-group.ts';
import { ShopProcessLauncher } from '../src/lab/fleet/instance-process.ts';
import { LoadBalancer, type LoadBalancerOptions } from '../src/lab/fleet/load-balancer.ts';
import { runProbe } from '../src/traffic/probe.ts';
import { freshDatabase, usePostgres } from './helpers/lab.ts';
import { initSchema } from '../src/shop/schema.ts';
import pg from 'pg';
import { resolvePatterns } from '../src/shop/patterns.ts';

const postgres = usePostgres();

// Article 1's health check scaled down 50×: interval 200 ms, timeout 100 ms, thresholds 2 / 3.
const FAST_CHECKS = { intervalMs: 200, timeoutMs: 100, healthyThreshold: 2, unhealthyThreshold: 3 };

interface Fleet {
  lb: LoadBalancer;
  group: InstanceGroup;
  close(): Promise<void>;
}

async function startFleet(lbOptions: Partial<LoadBalancerOptions> = {}): Promise<Fleet> {
  const server = postgres();
  const database = await freshDatabase(server);
  // Schema first, so that every instance serves /products as soon as it listens.
  const client = new pg.Client(database);
  await client.connect();
  await initSchema(client);
  await client.end();
  const lb = new LoadBalancer({ healthCheck: FAST_CHECKS, targetTimeoutMs: 500, ...lbOptions });
  await lb.listen();
  const group = new InstanceGroup({
    launcher: new ShopProcessLauncher(),
    loadBalancer: lb,
    env: { DB_WRITER_URL: server.connectionString(database.database), SHOP_PATTERNS: JSON.stringify(resolvePatterns('resilient')) },
    healthCheckGracePeriodMs: 0,
  });
  await group.start();
  // Wait until both targets are in rotation.
  const deadline = Date.now() + 10_000;
  while (lb.targets().filter((t) => t.inRotation).length < 2) {
    if (Date.now() > deadline) throw new Error(`targets not healthy: ${JSON.stringify(lb.targets())}`);
    await delay(50);
  }
  return {
    lb,
    group,
    async close() {
      await group.close();
      await lb.close();
    },
  };
}

/** Article 1's probe loop, faster: one GET /products every `everyMs`, status 0 for a client timeout. */
function probe(url: string, durationMs: number, everyMs: number) {
  return runProbe({ url, durationMs, everyMs, timeoutMs: 2000 });
}

describe('instance group behind the load balancer', () => {
  let fleet: Fleet;
  before(async () => {
    fleet = await startFleet();
  });
  after(async () => {
    await fleet?.close();
  });

  it('launches instances across zones, tagged, and balances round robin over them', async () => {
    const instances = fleet.group.instances();
    assert.equal(instances.length, 2);
    assert.deepEqual(instances.map((i) => i.zone).sort(), ['a', 'b']);
    for (const instance of instances) {
      assert.match(instance.id, /^i-0[0-9a-f]{16}$/);
      assert.equal(instance.tags['Project'], 'chaos-lab');
      assert.equal(instance.state, 'running');
    }
    const servedBy: string[] = [];
    for (let i = 0; i < 6; i++) {
      const body = (await (await fetch(`${fleet.lb.url}/`)).json()) as { instance_id: string; availability_zone: string };
      servedBy.push(body.instance_id);
    }
    assert.equal(new Set(servedBy).size, 2, 'both instances served');
    for (let i = 1; i < servedBy.length; i++) assert.notEqual(servedBy[i], servedBy[i - 1], 'round robin alternates');
  });
});

describe('the detection window (Article 1)', () => {
  it('plain load balancer: a stopped instance costs 502s until health checks take it out; the group replaces it in the same zone', async () => {
    const fleet = await startFleet();
    try {
      const victim = fleet.group.instances()[0]!;
      const replaced = new Promise<GroupEvent>((resolve) => fleet.group.on('event', (e) => e.type === 'launch' && e.detail?.includes(victim.id) && resolve(e)));
      const probing = probe(fleet.lb.url, 2500, 25);
      await delay(300);
      const stoppedAt = Date.now();
      fleet.group.stop(victim.id);
      const results = await probing;
      const failures = results.filter((r) => r.status !== 200);
      assert.ok(failures.length > 0, 'requests failed during the detection window');
      // 502: the stopped target refuses or resets. A 503 may come first, from the instance itself
      // while it shuts down gracefully.
      assert.ok(failures.every((f) => f.status === 502 || f.status === 503), `failures: ${failures.map((f) => f.status)}`);
      assert.ok(failures.some((f) => f.status === 502));
      const window = failures.at(-1)!.at - stoppedAt;
      // Out of rotation after 3 failed checks at 200 ms intervals (plus one interval of phase).
      assert.ok(window <= 3 * 200 + 200 + 300, `last failure ${window} ms after the stop`);
      assert.ok(results.filter((r) => r.at > stoppedAt + 1200).every((r) => r.status === 200), 'no failures once it is out of rotation');

      const launch = await replaced;
      assert.equal(launch.zone, victim.zone, 'replacement in the same zone');
      const changes = fleet.lb.stateChanges().filter((c) => c.target === victim.id);
      assert.deepEqual(changes.map((c) => c.to).slice(-1), ['unhealthy']);
    } finally {
      await fleet.close();
    }
  });

  it('with retries on another target and passive ejection, a stopped instance costs customers nothing', async () => {
    const fleet = await startFleet({ retry: true, ejection: { consecutiveFailures: 1, durationMs: 30_000 } });
    try {
      const victim = fleet.group.instances()[0]!;
      const probing = probe(fleet.lb.url, 2000, 25);
      await delay(300);
      fleet.group.stop(victim.id);
      const results = await probing;
      assert.deepEqual(results.filter((r) => r.status !== 200), []);
    } finally {
      await fleet.close();
    }
  });

  it('a paused instance answers nothing: 504s until health checks take it out', async () => {
    const fleet = await startFleet({ targetTimeoutMs: 300 });
    try {
      const victim = fleet.group.instances()[0]!;
      const pausedAt = Date.now();
      fleet.group.pause(victim.id);
      const results = await probe(fleet.lb.url, 2000, 25);
      const failures = results.filter((r) => r.status !== 200);
      assert.ok(failures.filter((f) => f.status === 504).length > 0, 'requests to the hung instance timed out');
      // At most one other failure: a request still waiting on the hung instance when the group
      // terminated it (its connection is reset: 502).
      assert.ok(failures.filter((f) => f.status !== 504).every((f) => f.status === 502), `failures: ${failures.map((f) => f.status)}`);
      assert.ok(failures.filter((f) => f.status !== 504).length <= 1, `failures: ${failures.map((f) => f.status)}`);
      assert.ok(results.filter((r) => r.at > pausedAt + 1500).every((r) => r.status === 200), 'ejected by the health checks');
      // After the grace period (0 here) the group has terminated the hung instance and replaced it.
      const events = fleet.group.events();
      assert.ok(events.some((e) => e.type === 'terminate' && e.instanceId === victim.id), 'the hung instance was terminated');
      assert.ok(events.some((e) => e.type === 'launch' && e.detail === `replaces ${victim.id}`), 'and replaced');
    } finally {
      await fleet.close();
    }
  });
});
