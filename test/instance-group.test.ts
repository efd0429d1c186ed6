// The instance group's replacement rules, with in-process fake instances (tiny HTTP servers
// that can hang or exit) behind the real load balancer.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { InstanceGroup, InstanceGroupError } from '../src/lab/fleet/instance-group.ts';
import type { InstanceExit, InstanceLauncher, InstanceProcess, LaunchSpec } from '../src/lab/fleet/instance-process.ts';
import { LoadBalancer } from '../src/lab/fleet/load-balancer.ts';

const FAST_CHECKS = { intervalMs: 100, timeoutMs: 50, healthyThreshold: 2, unhealthyThreshold: 3 };

/** Fake instances: SIGSTOP makes one hang, SIGCONT wakes it, SIGTERM/SIGKILL end it. */
class FakeLauncher implements InstanceLauncher {
  launchDelayMs = 0;
  readonly servers: Server[] = [];

  async launch(_spec: LaunchSpec): Promise<InstanceProcess> {
    await delay(this.launchDelayMs);
    let hung = false;
    const server = createServer((_request, response) => {
      if (!hung) response.end('{"status":"healthy"}');
    });
    this.servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    let resolveExit!: (exit: InstanceExit) => void;
    const exited = new Promise<InstanceExit>((resolve) => (resolveExit = resolve));
    let done = false;
    return {
      pid: 1_000_000 + this.servers.length,
      port: typeof address === 'object' && address ? address.port : 0,
      exited,
      signal: (signal) => {
        if (done) return;
        if (signal === 'SIGSTOP') hung = true;
        else if (signal === 'SIGCONT') hung = false;
        else if (signal === 'SIGTERM' || signal === 'SIGKILL') {
          done = true;
          server.closeAllConnections();
          server.close();
          resolveExit({ code: null, signal });
        }
      },
    };
  }
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await delay(20);
  }
}

async function fleet(graceMs: number, desired = 2) {
  const launcher = new FakeLauncher();
  const lb = new LoadBalancer({ healthCheck: FAST_CHECKS });
  await lb.listen();
  const group = new InstanceGroup({ launcher, loadBalancer: lb, env: {}, min: desired, desired, max: desired * 2, healthCheckGracePeriodMs: graceMs });
  await group.start();
  return {
    launcher,
    lb,
    group,
    async close() {
      await group.close();
      await lb.close();
    },
  };
}

describe('instance group replacement rules', () => {
  it('an instance that hangs within the grace period is terminated and replaced once the grace period ends', async () => {
    const { group, close } = await fleet(800);
    try {
      const victim = group.instances()[0]!;
      group.pause(victim.id);
      await until(() => group.events().some((e) => e.type === 'terminate' && e.instanceId === victim.id), 3000, 'the hung instance is terminated');
      const terminatedAt = Date.parse(group.events().find((e) => e.type === 'terminate' && e.instanceId === victim.id)!.at);
      assert.ok(terminatedAt >= Date.parse(victim.launchedAt) + 800, 'not before the grace period ended');
      await until(() => group.instances().filter((i) => i.state === 'running').length === 2, 3000, 'capacity is back');
      assert.ok(group.instances().some((i) => i.zone === victim.zone && i.id !== victim.id), 'replaced in the same zone');
    } finally {
      await close();
    }
  });

  it('an instance stopped after its target went unhealthy leaves the load balancer at once', async () => {
    const { group, lb, close } = await fleet(60_000);
    try {
      const victim = group.instances()[0]!;
      group.pause(victim.id);
      await until(() => lb.targets().find((t) => t.id === victim.id)?.state === 'unhealthy', 3000, 'the target is unhealthy');
      group.kill(victim.id);
      await until(() => lb.targets().every((t) => t.id !== victim.id), 3000, 'the dead target is deregistered');
      assert.equal(group.events().filter((e) => e.type === 'terminate' && e.instanceId === victim.id).length, 1);
    } finally {
      await close();
    }
  });

  it('terminating an instance while it is still starting does not bring it back', async () => {
    const { group, launcher, close } = await fleet(60_000, 1);
    try {
      launcher.launchDelayMs = 200;
      group.kill(group.instances()[0]!.id); // its replacement takes 200 ms to start
      await until(() => group.instances().some((i) => i.state === 'pending'), 1000, 'a replacement is pending');
      const pending = group.instances().find((i) => i.state === 'pending')!;
      group.terminate(pending.id);
      await delay(600);
      const running = group.instances().filter((i) => i.state === 'running');
      assert.equal(running.length, 1, `one instance, not two: ${JSON.stringify(group.instances())}`);
      assert.notEqual(running[0]!.id, pending.id);
    } finally {
      await close();
    }
  });

  it('of 10 parallel stops of one instance one wins, the other 9 are refused, and one replacement is launched', async () => {
    // The state stayed 'running' until the process exited, so every parallel stop passed the check and answered 200.
    const { group, close } = await fleet(60_000);
    try {
      const victim = group.instances()[0]!;
      const results = await Promise.allSettled(Array.from({ length: 10 }, async () => group.stop(victim.id)));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(refused.length, 9);
      for (const r of refused) assert.ok(r.reason instanceof InstanceGroupError && r.reason.code === 'ALREADY_STOPPING', String(r.reason));
      await until(() => group.instances().filter((i) => i.state === 'running').length === 2, 3000, 'capacity is back');
      const replacements = group.events().filter((e) => e.type === 'launch' && e.detail === `replaces ${victim.id}`);
      assert.equal(replacements.length, 1);
      assert.equal(group.events().filter((e) => e.type === 'stop' && e.instanceId === victim.id).length, 1);
    } finally {
      await close();
    }
  });
});
