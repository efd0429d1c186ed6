// The control plane: `chaos-lab up` as a real process, the commands against it, and no orphans
// when it is killed with SIGKILL.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LabInfo, LabStatus } from '../src/lab/lab.ts';
import { labCommand, spawnUp, waitReady, type UpProcess } from './helpers/lab-cycle.ts';
import { within } from './helpers/deadline.ts';
import { alive, descendants, killFamily, waitUntilGone } from './helpers/processes.ts';

/** Runs a chaos-lab command against `dir` (bounded at 30 s). */
const chaosLab = labCommand;

/** Starts `up` in `dir` and waits (bounded) until it is ready. */
async function startUp(dir: string): Promise<{ up: UpProcess; child: ChildProcess; info: LabInfo }> {
  const up = spawnUp(dir);
  try {
    return { up, child: up.child, info: await waitReady(up, 30_000) };
  } catch (error) {
    await killFamily(up.child.pid!);
    throw error;
  }
}

describe('chaos-lab up and the commands against it', () => {
  let dir: string;
  let up: ChildProcess;
  let info: LabInfo;
  let family: number[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chaos-lab-test-'));
    ({ child: up, info } = await startUp(dir));
    family = descendants(up.pid!);
  });
  after(async () => {
    if (up) await killFamily(up.pid!, family);
    await rm(dir, { recursive: true, force: true });
  });

  it('answers through the load balancer and writes its token readable by its user only', async () => {
    const response = await fetch(`${info.loadBalancerUrl}/products`);
    assert.equal(response.status, 200);
    const mode = (await stat(join(dir, 'token'))).mode & 0o777;
    assert.equal(mode, 0o600);
    assert.equal(new URL(info.loadBalancerUrl).hostname, '127.0.0.1');
    assert.equal(new URL(info.controlUrl).hostname, '127.0.0.1');
  });

  it('exposes the load balancer metrics: host counts and requests by status', async () => {
    const token = (await readFile(join(dir, 'token'), 'utf8')).trim();
    const response = await fetch(`${info.controlUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    const text = await response.text();
    assert.match(text, /chaos_lb_healthy_host_count \d+/);
    assert.match(text, /chaos_lb_unhealthy_host_count \d+/);
    assert.match(text, /chaos_lb_requests_total\{status="200"/);
  });

  it('refuses control requests without the token', async () => {
    const response = await fetch(`${info.controlUrl}/status`);
    assert.equal(response.status, 401);
    assert.match(((await response.json()) as { error: string }).error, /token/);
  });

  it('status shows instances across zones, database roles and faults, as text and as JSON', async () => {
    const text = await chaosLab(dir, 'status');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /zone a/);
    assert.match(text.stdout, /zone b/);
    assert.match(text.stdout, /pg-1 {2}writer/);
    assert.match(text.stdout, new RegExp(`^dashboard: ${info.controlUrl}/\\?token=[0-9a-f]{48}$`, 'm'));
    const json = await chaosLab(dir, 'status', '--json');
    const status = JSON.parse(json.stdout) as LabStatus;
    assert.equal(status.instances.length, 2);
    assert.deepEqual(status.database.members.map((m) => m.role), ['writer', 'reader']);
    // The patterns every instance got, the topology, and each dependency of the registry with where it leads.
    assert.match(text.stdout, /patterns resilient, database through the database proxy/);
    assert.match(text.stdout, /db-writer {2}database writer/);
    assert.equal(status.info.databaseProxy, true);
    assert.deepEqual(status.info.patterns.retry.delaysMs, [500, 1000, 2000]);
    // Every lab runs the services store now (Article 7's reviews and promo live there), so its
    // breaker-state path and the two secondary dependencies are listed, each its own listener.
    const store = status.info.endpoints.servicesStore!;
    assert.ok(store, 'the lab runs the services store');
    assert.deepEqual(status.servicesStore && [status.servicesStore.address, status.servicesStore.running], [store, true]);
    assert.deepEqual(
      status.dependencies.map((d) => [d.name, d.kind, d.role, d.upstream.port, d.instanceEnv]),
      [
        ['db-writer', 'database', 'writer', status.info.endpoints.proxyWriter.port, 'DB_WRITER_URL'],
        ['db-reader', 'database', 'reader', status.info.endpoints.proxyReader.port, 'DB_READER_URL'],
        ['services-store', 'key-value-store', 'breaker-state', store.port, 'SERVICES_STORE_URL'],
        ['reviews', 'key-value-store', 'reviews', store.port, 'REVIEWS_URL'],
        ['promo', 'object-store', 'promo', store.port, 'PROMO_URL'],
      ],
    );
    assert.match(text.stdout, /^ {2}reviews {2}key-value-store reviews {2}127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ {2}\(REVIEWS_URL\)$/m);
    assert.match(text.stdout, /^services store: pid \d+ {2}127\.0\.0\.1:\d+$/m);
    // Article 3's resilient shop keeps none of Article 4's parts in the store: no queue, no shared breaker, no worker.
    assert.deepEqual([status.queue, status.breaker, status.recoveryWorker], [null, null, null]);
  });

  it('each command prints what it did, and bad input gets a clear error', async () => {
    const status = JSON.parse((await chaosLab(dir, 'status', '--json')).stdout) as LabStatus;
    const id = status.instances[0]!.id;
    const paused = await chaosLab(dir, 'instance', 'pause', id);
    assert.match(paused.stdout, new RegExp(`pause: ${id} .* is running \\(paused\\)`));
    assert.match((await chaosLab(dir, 'instance', 'resume', id)).stdout, /resume: .* is running$/m);

    const fault = await chaosLab(dir, 'fault', 'add', 'db-reader', 'latency', '--param', 'latencyMs=20', '--duration', '30s', '--json');
    assert.equal(fault.code, 0, fault.stderr);
    assert.equal((JSON.parse(fault.stdout) as { type: string }).type, 'latency');
    assert.match((await chaosLab(dir, 'fault', 'list')).stdout, /db-reader {2}latency/);
    assert.match((await chaosLab(dir, 'fault', 'clear')).stdout, /removed 1 fault/);

    const failover = await chaosLab(dir, 'failover');
    assert.match(failover.stdout, /failover: promoted pg-2, demoted pg-1/);

    const deregistered = await chaosLab(dir, 'proxy', 'deregister');
    assert.match(deregistered.stdout, /deregistered/);
    assert.match((await chaosLab(dir, 'proxy', 'register')).stdout, /registered/);

    const unknown = await chaosLab(dir, 'instance', 'stop', 'i-0000');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no instance "i-0000" in the group/);
    const badFault = await chaosLab(dir, 'fault', 'add', 'cache', 'blackhole');
    assert.match(badFault.stderr, /dependency must be one of db-writer, db-reader, services-store, reviews, promo, got "cache"/);
    const noQueue = await chaosLab(dir, 'queue');
    assert.equal(noQueue.code, 1);
    assert.match(noQueue.stderr, /this lab runs no order queue: its patterns have writeBuffer off/);
    const badDuration = await chaosLab(dir, 'fault', 'add', 'db-writer', 'blackhole', '--duration', 'soon');
    assert.equal(badDuration.code, 2);
    assert.match(badDuration.stderr, /--duration must be a duration like 500ms, 30s or 2m \(above 0, at most a day\), got "soon"/);
  });

  it('leaves no process behind when it is killed with SIGKILL', async () => {
    const status = JSON.parse((await chaosLab(dir, 'status', '--json')).stdout) as LabStatus;
    const servers = [...status.database.members.map((m) => m.pid), status.servicesStore?.pid ?? null].filter((pid) => pid !== null);
    const pids = [info.faultProxyPid, ...status.instances.map((i) => i.pid!), ...servers];
    assert.ok(pids.length >= 6, `children: ${pids}`);
    assert.ok(pids.every(alive));
    // The servers' data folders (-D on their command lines), which the reaper must remove too:
    // the writer's, the reader's and the services store's.
    const dataFolders = servers.map((pid) => {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return dirname(argv[argv.indexOf('-D') + 1]!);
    });
    assert.equal(dataFolders.length, 3);
    const everything = descendants(up.pid!); // the reaper among them: it exits once its job is done
    up.kill('SIGKILL');
    assert.deepEqual(await waitUntilGone(pids, 10_000), [], 'every child died with the controller');
    assert.deepEqual(await waitUntilGone(everything, 10_000), [], 'and the reaper finished its job');
    for (const folder of dataFolders) assert.equal(existsSync(folder), false, `${folder} outlived the controller`);
  });
});

describe('chaos-lab down', () => {
  it('stops a running lab and removes its state', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chaos-lab-test-'));
    const { up, child } = await startUp(dir);
    const family = descendants(child.pid!);
    try {
      const down = await chaosLab(dir, 'down');
      assert.match(down.stdout, /stopping the lab/);
      assert.equal(await within(15_000, 'up exit after down', up.exited), 0);
      await assert.rejects(stat(join(dir, 'lab.json')), /ENOENT/);
      const after = await chaosLab(dir, 'status');
      assert.equal(after.code, 1);
      assert.match(after.stderr, /no running lab in/);
    } finally {
      await killFamily(child.pid!, family);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
