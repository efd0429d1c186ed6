// Commands against a running lab: status, down, instance, failover, proxy, fault, queue. Each
// prints what the lab did (or its JSON with --json).
import { parseArgs } from 'node:util';
import { DEPENDENCY_NAMES } from '../../lab/dependencies.ts';
import type { LabQueueStatus, LabStatus } from '../../lab/lab.ts';
import type { DeadLetter } from '../../services/queue/message-queue.ts';
import { patternsName } from '../../shop/patterns.ts';
import { LabClient, labDir } from '../lab-client.ts';
import { parseCount, parseDuration, UsageError } from '../shared.ts';

const COMMON = { dir: { type: 'string' }, json: { type: 'boolean', default: false } } as const;

function print(json: boolean, value: unknown, human: () => string): void {
  console.log(json ? JSON.stringify(value, null, 2) : human());
}

export async function statusCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: COMMON, strict: true });
  const lab = await LabClient.open(labDir(values.dir));
  const status = await lab.call<LabStatus>('GET', '/status');
  // The dashboard's URL again, for whoever lost up's output (it carries the token, as up's line does).
  print(values.json, status, () => `${describeStatus(status)}\n\ndashboard: ${lab.dashboardUrl}`);
}

function describeStatus(s: LabStatus): string {
  const topology = s.info.databaseProxy ? 'through the database proxy' : 'straight to the cluster endpoints';
  const lines = [`lab pid ${s.info.pid}, patterns ${patternsName(s.info.patterns)}, database ${topology}, load balancer ${s.info.loadBalancerUrl}`, '', 'instances:'];
  for (const i of s.instances) {
    const target = s.targets.find((t) => t.id === i.id);
    lines.push(`  ${i.id}  zone ${i.zone}  ${i.state}${i.paused ? ' (paused)' : ''}  pid ${i.pid ?? '-'}  target ${target ? `${target.state}${target.inRotation ? ', in rotation' : ''}` : 'not registered'}`);
  }
  lines.push('', 'database:');
  for (const m of s.database.members) {
    const lag = m.replicationLagBytes === null ? '' : `  lag ${m.replicationLagBytes} bytes`;
    lines.push(`  ${m.name}  ${m.role}  ${m.running ? `pid ${m.pid}` : 'stopped'}  127.0.0.1:${m.address.port}${lag}`);
  }
  lines.push(`  writer endpoint -> ${s.database.endpoints.writer.target ?? 'none'}, reader endpoint -> ${s.database.endpoints.reader.target ?? 'none'}`);
  lines.push(`  database proxy: targets ${s.databaseProxy.registered ? 'registered' : 'DEREGISTERED'}`);
  if (s.servicesStore) lines.push(`services store: ${s.servicesStore.running ? `pid ${s.servicesStore.pid}` : 'stopped'}  127.0.0.1:${s.servicesStore.address.port}`);
  lines.push('', 'dependencies (through the fault proxy):');
  for (const d of s.dependencies) lines.push(`  ${d.name}  ${d.kind} ${d.role}  127.0.0.1:${d.listen.port} -> ${d.upstream.host}:${d.upstream.port}  (${d.instanceEnv})`);
  // Article 4's parts, where the lab runs them (the JSON has null otherwise).
  if (s.breaker || s.queue || s.recoveryWorker) lines.push('');
  if (s.breaker) lines.push(`breaker ${s.breaker.name}: ${s.breaker.state}, generation ${s.breaker.generation}, ${describeBreakerDetail(s.breaker)}`);
  if (s.queue) lines.push(describeQueue(s.queue));
  if (s.recoveryWorker) {
    const w = s.recoveryWorker;
    const c = w.counters;
    lines.push(
      `recovery worker: ${w.running ? `pid ${w.pid}` : 'not running (restarting)'}, restarts ${w.restarts}; received ${c.received}, committed ${c.committed}, replayed ${c.replayed}, rejected ${c.rejected}, dead-lettered ${c.deadLettered}, transient failures ${c.transientFailures}`,
    );
    if (w.lastProblem) lines.push(`  last problem ${w.lastProblem.at.slice(11, 19)}: ${w.lastProblem.message}`);
  }
  lines.push('', 'faults:');
  const faults = s.faultProxies.flatMap((p) => p.faults);
  if (faults.length === 0) lines.push('  none');
  for (const f of faults) lines.push(`  ${f.id}  ${f.proxy}  ${f.type} ${JSON.stringify(f.params)}  until ${f.expiresAt}`);
  return lines.join('\n');
}

function describeBreakerDetail(b: NonNullable<LabStatus['breaker']>): string {
  if (b.state === 'OPEN') return `open for ${seconds(b.openForMs)}`;
  if (b.state === 'HALF_OPEN') return `trial lease ${seconds(b.trialLeaseLeftMs)} left`;
  return `${b.failures} consecutive failure(s)`;
}

function seconds(ms: number | null): string {
  return ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`;
}

/** The queue's line: what `status` and `queue` print. */
function describeQueue(q: LabQueueStatus): string {
  const { stats, settings } = q;
  return [
    `queue ${q.name}: depth ${stats.depth}, in flight ${stats.inFlight}, dead letters ${stats.deadLetters}, oldest message ${stats.oldestAgeMs === null ? '-' : seconds(stats.oldestAgeMs)}`,
    `  sent ${stats.sent}, deleted ${stats.deleted}; visibility timeout ${seconds(settings.visibilityTimeoutMs)}, long poll ${seconds(settings.receiveWaitTimeMs)}, dead-lettered after ${settings.maxReceiveCount} receives`,
  ].join('\n');
}

/** chaos-lab queue [redrive [--limit N]]: the order queue of a lab whose patterns buffer writes. */
export async function queueCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { ...COMMON, limit: { type: 'string' } }, strict: true, allowPositionals: true });
  const [action, ...extra] = positionals;
  if ((action !== undefined && action !== 'redrive') || extra.length > 0) throw new UsageError('usage: chaos-lab queue [--json] | chaos-lab queue redrive [--limit N]');
  if (values.limit !== undefined && action !== 'redrive') throw new UsageError('--limit goes with queue redrive');
  const limit = parseCount(values.limit, '--limit', 100_000);
  const lab = await LabClient.open(labDir(values.dir));
  if (action === 'redrive') {
    const result = await lab.call<{ moved: number }>('POST', '/queue/redrive', limit === undefined ? {} : { limit });
    print(values.json, result, () => `moved ${result.moved} dead letter(s) back to the queue`);
    return;
  }
  const queue = await lab.call<LabQueueStatus & { deadLetters: DeadLetter[] }>('GET', '/queue');
  print(values.json, queue, () => {
    const lines = [describeQueue(queue), '', 'dead letters:'];
    if (queue.deadLetters.length === 0) lines.push('  none');
    for (const d of queue.deadLetters) {
      const lastError = d.lastError && d.lastError !== d.reason ? ` (last error: ${d.lastError})` : '';
      lines.push(`  ${d.messageId}  key ${d.key ?? '-'}  received ${d.receiveCount}x  dead-lettered ${d.deadLetteredAt}: ${d.reason}${lastError}`);
    }
    if (queue.deadLetters.length > 0) lines.push('', 'chaos-lab queue redrive moves them back to the queue.');
    return lines.join('\n');
  });
}

export async function downCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: COMMON, strict: true });
  const lab = await LabClient.open(labDir(values.dir));
  const result = await lab.call('POST', '/down');
  print(values.json, result, () => `stopping the lab (pid ${lab.info.pid})`);
}

export async function instanceCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: COMMON, strict: true, allowPositionals: true });
  const [action, id] = positionals;
  if (!action || !id || !['stop', 'kill', 'pause', 'resume', 'terminate'].includes(action)) {
    throw new UsageError('usage: chaos-lab instance stop|kill|pause|resume|terminate <instance-id>');
  }
  const lab = await LabClient.open(labDir(values.dir));
  const result = await lab.call<{ instance: { id: string; zone: string; state: string; paused: boolean; pid: number | null } }>(
    'POST',
    `/instances/${encodeURIComponent(id)}/${action}`,
  );
  const { instance } = result;
  const state = `${instance.state}${instance.paused ? ' (paused)' : ''}`;
  const next = action === 'stop' || action === 'kill' ? '; the group will replace it' : '';
  print(values.json, result, () => `${action}: ${instance.id} (zone ${instance.zone}, pid ${instance.pid}) is ${state}${next}`);
}

export async function failoverCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: COMMON, strict: true });
  const lab = await LabClient.open(labDir(values.dir));
  const result = await lab.call<{ promoted: string; demoted: string; cutConnections: number; writerUnavailableMs: number }>('POST', '/failover');
  print(values.json, result, () => `failover: promoted ${result.promoted}, demoted ${result.demoted} (being rebuilt as the reader); cut ${result.cutConnections} connections; writer unavailable ${result.writerUnavailableMs} ms`);
}

export async function proxyCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: COMMON, strict: true, allowPositionals: true });
  const [action] = positionals;
  if (action !== 'deregister' && action !== 'register') throw new UsageError('usage: chaos-lab proxy deregister|register');
  const lab = await LabClient.open(labDir(values.dir));
  const result = await lab.call<{ registered: boolean; closedConnections: number }>('POST', `/db-proxy/${action}`);
  print(values.json, result, () => `database proxy targets ${result.registered ? 'registered' : `deregistered; closed ${result.closedConnections} connections`}`);
}

export async function faultCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...COMMON, duration: { type: 'string' }, direction: { type: 'string' }, toxicity: { type: 'string' }, param: { type: 'string', multiple: true, default: [] } },
    strict: true,
    allowPositionals: true,
  });
  const [action, dependency, type] = positionals;
  if (!(action === 'list' || action === 'clear' || (action === 'add' && dependency && type))) {
    throw new UsageError(`usage: chaos-lab fault add <${DEPENDENCY_NAMES.join('|')}> <fault> [--duration 30s] [--param name=value]… | fault list | fault clear`);
  }
  const toxicity = values.toxicity === undefined ? undefined : Number(values.toxicity);
  if (toxicity !== undefined && !(toxicity >= 0 && toxicity <= 1)) throw new UsageError(`--toxicity must be a number from 0 to 1, got ${JSON.stringify(values.toxicity)}`);
  const durationMs = parseDuration(values.duration, '--duration');
  const lab = await LabClient.open(labDir(values.dir));
  if (action === 'list') {
    const faults = await lab.call<Array<{ id: string; proxy: string; type: string; expiresAt: string }>>('GET', '/faults');
    print(values.json, faults, () => (faults.length === 0 ? 'no faults' : faults.map((f) => `${f.id}  ${f.proxy}  ${f.type}  until ${f.expiresAt}`).join('\n')));
    return;
  }
  if (action === 'clear') {
    const removed = await lab.call<Array<{ id: string }>>('DELETE', '/faults');
    print(values.json, removed, () => `removed ${removed.length} fault(s)`);
    return;
  }
  const params: Record<string, number> = {};
  for (const pair of values.param) {
    const match = /^([A-Za-z]+)=(-?\d+(?:\.\d+)?)$/.exec(pair);
    if (!match) throw new UsageError(`--param must look like latencyMs=200, got ${JSON.stringify(pair)}`);
    params[match[1]!] = Number(match[2]);
  }
  const body = {
    dependency,
    type,
    params,
    durationMs,
    direction: values.direction,
    toxicity,
  };
  const fault = await lab.call<{ id: string; type: string; proxy: string; affectedConnections: number; expiresAt: string }>('POST', '/faults', body);
  print(values.json, fault, () => `${fault.id}: ${fault.type} on ${fault.proxy}, reached ${fault.affectedConnections} open connection(s), until ${fault.expiresAt}`);
}
