// Template validation: a table of invalid templates and the messages they produce. Each
// message names the field and the bad value.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PlanError, planRun, type PlannedBreakerLab, type PlannedShopLab } from './plan.ts';
import { PROFILES } from './profiles.ts';
import { loadTemplate, MAX_TEMPLATE_BYTES, parseTemplate, TemplateError, validateTemplate } from './template.ts';

const valid = (): Record<string, unknown> => ({
  title: 'Stop one instance',
  description: 'a test template',
  duration: '60s',
  modes: { naive: {}, resilient: { lab: { loadBalancer: { retry: true } } } },
  targets: { shops: { resourceType: 'lab:instance', resourceTags: { Project: 'chaos-lab' }, selectionMode: 'COUNT(1)' } },
  actions: {
    wait: { actionId: 'lab:wait', duration: '10s' },
    stop: { actionId: 'lab:instance:stop', targets: { Instances: 'shops' }, startAfter: ['wait'] },
  },
});

/** [what is wrong, how to break a valid template, the message expected]. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the table breaks templates freely
const INVALID: Array<[string, (t: Record<string, any>) => void, string]> = [
  ['no title', (t) => delete t.title, 'title: is required'],
  ['unknown top-level field', (t) => (t.hypothesis = {}), '(template): unknown field "hypothesis"'],
  ['bad duration', (t) => (t.duration = '30 seconds'), 'duration: must be a duration like 500ms, 30s, 2m or PT30S (above 0, at most a day), got "30 seconds"'],
  ['no modes', (t) => (t.modes = {}), 'modes: needs at least 1, got {}'],
  ['bad mode name', (t) => (t.modes = { 'Naive Mode': {} }), 'modes: "Naive Mode" is not a valid name (a lowercase letter, then lowercase letters, digits and -, up to 32)'],
  ['a mode named compare', (t) => (t.modes = { compare: {} }), 'modes: "compare" is reserved (--mode compare runs every mode)'],
  ['bad action name', (t) => (t.actions['stop it!'] = { actionId: 'lab:wait', duration: '1s' }), 'actions: "stop it!" is not a valid name (a letter or digit, then letters, digits, - and _, up to 64)'],
  ['a zero duration', (t) => (t.actions.wait.duration = '0s'), 'actions.wait.duration: must be a duration like 500ms, 30s, 2m or PT30S (above 0, at most a day), got "0s"'],
  [
    'bad fault parameters',
    (t) => {
      t.targets.db = { resourceType: 'lab:dependency', selectionMode: 'ALL' };
      t.actions.slow = { actionId: 'lab:network:disrupt', targets: { Dependencies: 'db' }, duration: '30s', parameters: { fault: 'latency', params: { latencyMs: 'slow' } } };
    },
    'actions.slow.parameters.params: ',
  ],
  ['misspelt lab field', (t) => (t.modes.naive = { lab: { instnces: 2 } }), 'modes.naive.lab: unknown field "instnces"'],
  ['too many instances', (t) => (t.lab = { instances: 50 }), 'lab.instances: must be <= 8, got 50'],
  ['unknown patterns preset', (t) => (t.lab = { patterns: 'paranoid' }), 'lab.patterns: must be one of naive, resilient, resilient-breaker, graceful, coupled, isolated, isolated-stale, got "paranoid"'],
  // strategy meant the shop's connection code and the lab's topology at once; an old template gets told what replaced it.
  ['the old strategy field', (t) => (t.lab = { strategy: 'naive' }), 'lab.strategy: is gone: say what the shop does with patterns'],
  ['a negative retry delay in a mode', (t) => (t.modes.naive = { lab: { patterns: { preset: 'naive', retry: { delaysMs: [-1] } } } }), 'modes.naive.lab.patterns.retry.delaysMs[0]: must be >= 0, got -1'],
  ['a zero statement timeout', (t) => (t.modes.resilient.lab.patterns = { queryTimeoutMs: 0 }), 'modes.resilient.lab.patterns.queryTimeoutMs: must be > 0, got 0'],
  ['an unknown pattern', (t) => (t.modes.resilient.lab.patterns = { bulkhead: true }), 'modes.resilient.lab.patterns: unknown field "bulkhead"'],
  // workerPools was reserved until Article 7 (issue 11) gave it a meaning: now its values are checked.
  ['a worker pool of no workers', (t) => (t.modes.resilient.lab.patterns = { workerPools: { mode: 'shared', workers: 0 } }), 'modes.resilient.lab.patterns.workerPools.workers: must be >= 1, got 0'],
  ['a pool size on a persistent connection', (t) => (t.modes.naive = { lab: { patterns: { preset: 'naive', connection: { size: 5 } } } }), 'modes.naive.lab.patterns.connection.size: does not apply when modes.naive.lab.patterns.connection.kind is "persistent"'],
  ['a store address in the patterns', (t) => (t.modes.resilient.lab.patterns = { circuitBreaker: { mode: 'shared', store: { host: '127.0.0.1', port: 5432 } } }), 'modes.resilient.lab.patterns.circuitBreaker: unknown field "store"'],
  ['a databaseProxy that is not a boolean', (t) => (t.lab = { databaseProxy: 'yes' }), 'lab.databaseProxy: must be boolean, got "yes"'],
  ['unknown action', (t) => (t.actions.stop.actionId = 'lab:instance:reboot'), 'actions.stop.actionId: must be one of lab:wait, lab:instance:stop'],
  ['bad selection mode', (t) => (t.targets.shops.selectionMode = 'COUNT(0)'), 'targets.shops.selectionMode: must be ALL, COUNT(n) with n >= 1, or PERCENT(n) with 0 < n <= 100, got "COUNT(0)"'],
  ['PERCENT over 100', (t) => (t.targets.shops.selectionMode = 'PERCENT(150)'), 'got "PERCENT(150)"'],
  ['unknown resource type', (t) => (t.targets.shops.resourceType = 'aws:ec2:instance'), 'targets.shops.resourceType: must be one of lab:instance, lab:dependency, lab:db-cluster, lab:db-proxy, got "aws:ec2:instance"'],
  ['ids and tags', (t) => (t.targets.shops.resourceIds = ['i-1']), 'targets.shops: give resourceIds or resourceTags, not both'],
  ['missing target', (t) => delete t.actions.stop.targets, 'actions.stop.targets.Instances: is required by lab:instance:stop (a target of type lab:instance)'],
  ['unknown target', (t) => (t.actions.stop.targets.Instances = 'nope'), 'actions.stop.targets.Instances: no target named "nope"'],
  ['target of the wrong type', (t) => (t.targets.shops.resourceType = 'lab:dependency'), 'actions.stop.targets.Instances: lab:instance:stop needs a target of type lab:instance, got "shops" of type lab:dependency'],
  ['target key the action does not take', (t) => (t.actions.wait.targets = { Instances: 'shops' }), 'actions.wait.targets.Instances: lab:wait takes no targets, got "shops"'],
  ['startAfter an unknown action', (t) => (t.actions.stop.startAfter = ['warm-up']), 'actions.stop.startAfter: no action named "warm-up"'],
  ['startAfter itself', (t) => (t.actions.stop.startAfter = ['stop']), 'actions.stop.startAfter: an action cannot start after itself, got "stop"'],
  [
    'startAfter an action that holds until the run ends',
    (t) => {
      t.actions.outage = { actionId: 'lab:db-proxy:deregister' };
      t.actions.stop.startAfter = ['outage'];
    },
    'actions.stop.startAfter: "outage" has no duration, so it holds until the run ends and stop could never start',
  ],
  ['a cycle', (t) => (t.actions.wait.startAfter = ['stop']), 'actions: startAfter makes a cycle: wait -> stop -> wait'],
  ['wait without duration', (t) => delete t.actions.wait.duration, 'actions.wait.duration: is required by lab:wait'],
  ['duration on an instant action', (t) => (t.actions.stop.duration = '5s'), 'actions.stop.duration: lab:instance:stop takes no duration, got "5s"'],
  ['parameters on an action without any', (t) => (t.actions.stop.parameters = { force: true }), 'actions.stop.parameters.force: this action takes no parameters, got true'],
  [
    'unknown network fault',
    (t) => {
      t.targets.db = { resourceType: 'lab:dependency', resourceIds: ['db-writer'], selectionMode: 'ALL' };
      t.actions.cut = { actionId: 'lab:network:disrupt', targets: { Dependencies: 'db' }, duration: '30s', parameters: { fault: 'packet-loss' } };
    },
    'actions.cut.parameters.fault: must be one of refuse, blackhole, reset, latency, bandwidth, slow_close, limit_data, connect_delay, got "packet-loss"',
  ],
  [
    'toxicity out of range',
    (t) => {
      t.targets.db = { resourceType: 'lab:dependency', selectionMode: 'ALL' };
      t.actions.cut = { actionId: 'lab:network:disrupt', targets: { Dependencies: 'db' }, duration: '30s', parameters: { fault: 'reset', toxicity: 2 } };
    },
    'actions.cut.parameters.toxicity: must be a number from 0 to 1, got 2',
  ],
  ['unknown stop metric', (t) => (t.stopConditions = [{ name: 's', metric: 'cpu', operator: '>', threshold: 1 }]), 'stopConditions[0].metric: must be one of lb.healthyHosts, lb.unhealthyHosts, lb.http5xxRate, traffic.failureRate, got "cpu"'],
  ['rate threshold over 1', (t) => (t.stopConditions = [{ name: 's', metric: 'lb.http5xxRate', operator: '>', threshold: 50 }]), 'stopConditions[0].threshold: lb.http5xxRate is a fraction from 0 to 1, got 50'],
  ['hypothesis probe without tolerance', (t) => (t.steadyStateHypothesis = { title: 'ok', probes: [{ name: 'p', path: '/products' }] }), 'steadyStateHypothesis.probes[0].tolerance: is required'],
  ['hypothesis path not absolute', (t) => (t.steadyStateHypothesis = { title: 'ok', probes: [{ name: 'p', path: 'products', tolerance: { status: 200 } }] }), 'steadyStateHypothesis.probes[0].path: must match pattern "^/", got "products"'],
  // The interval was only checked to be at most a day: a 1-day interval validated, then the run waited hours for healthy targets.
  ['a health-check interval over 60s', (t) => (t.lab = { loadBalancer: { healthCheck: { interval: '86400s' } } }), 'lab.loadBalancer.healthCheck.interval: must be a duration above 0 and at most 60s (the articles use 10s for the interval, 5s for the timeout), got "86400s"'],
  ['a health-check timeout over 60s', (t) => (t.modes.naive = { lab: { loadBalancer: { healthCheck: { timeout: '2m' } } } }), 'modes.naive.lab.loadBalancer.healthCheck.timeout: must be a duration above 0 and at most 60s'],
  ['a grace period over 600s', (t) => (t.lab = { healthCheckGracePeriod: 'PT20M' }), 'lab.healthCheckGracePeriod: must be a duration above 0 and at most 600s (the articles use 300s), got "PT20M"'],
  [
    // The fault proxy refuses a lease over 15 minutes only when the fault is added, minutes into the run.
    'a network disruption longer than the fault lease',
    (t) => {
      t.targets.db = { resourceType: 'lab:dependency', selectionMode: 'ALL' };
      t.actions.cut = { actionId: 'lab:network:disrupt', targets: { Dependencies: 'db' }, duration: '15m', parameters: { fault: 'refuse' } };
    },
    `actions.cut.duration: lab:network:disrupt lasts at most 895s (the fault proxy's 15-minute lease, less a 5 s margin), got "15m"`,
  ],
  ['a pause longer than the fault lease', (t) => (t.actions.hang = { actionId: 'lab:instance:pause', targets: { Instances: 'shops' }, duration: '20m' }), 'actions.hang.duration: lab:instance:pause lasts at most 895s'],
  // The queue's long poll and visibility timeout are SQS's: a longer one validated would run as no SQS queue can.
  ["a long poll over SQS's 20 s", (t) => (t.lab = { queue: { receiveWaitTime: '30s' } }), `lab.queue.receiveWaitTime: must be at most 20s (SQS's longest long poll), got "30s"`],
  ["a visibility timeout over SQS's 12 h", (t) => (t.modes.resilient.lab.queue = { visibilityTimeout: '50000s' }), `modes.resilient.lab.queue.visibilityTimeout: must be at most 43200s (SQS's longest visibility timeout), got "50000s"`],
  ['a zero receive count', (t) => (t.lab = { queue: { maxReceiveCount: 0 } }), 'lab.queue.maxReceiveCount: must be >= 1, got 0'],
  ['a queue duration that is not one', (t) => (t.lab = { queue: { visibilityTimeout: 90 } }), 'lab.queue.visibilityTimeout: must be string, got 90'],
  ['an unknown queue field', (t) => (t.lab = { queue: { delaySeconds: 5 } }), 'lab.queue: unknown field "delaySeconds"'],
  ['unknown proxy target state', (t) => (t.lab = { databaseProxyTargets: 'absent' }), 'lab.databaseProxyTargets: must be one of registered, deregistered, got "absent"'],
  [
    'deregistered proxy targets with no proxy in the path',
    (t) => (t.modes.naive = { lab: { databaseProxy: false, databaseProxyTargets: 'deregistered' } }),
    'modes.naive.lab.databaseProxyTargets: deregistered needs the database proxy in the path, and mode naive has databaseProxy: false, got "deregistered"',
  ],
  ['a createSchema that is not a boolean', (t) => (t.lab = { createSchema: 'no' }), 'lab.createSchema: must be boolean, got "no"'],
  ['unknown rollback', (t) => (t.rollbacks = [{ name: 'r', actionId: 'lab:db:failover' }]), 'rollbacks[0].actionId: must be one of lab:instance:resume-all, lab:db-proxy:register, lab:network:clear, lab:backend:restore, got "lab:db:failover"'],
];

const validBreakerLab = (): Record<string, unknown> => ({
  title: 'Fail the backend',
  description: 'a breaker-lab test template',
  duration: '60s',
  lab: { kind: 'breaker-lab', breakerLab: { clientTimeout: '1s', breaker: { recoveryTimeout: '10s', trialLease: '3s' }, backendLatency: '400ms', refreshInterval: '4s' } },
  modes: { local: { lab: { breakerLab: { mode: 'local' } } }, shared: { lab: { breakerLab: { mode: 'shared' } } } },
  traffic: { readsPerSecond: 8, writesPerSecond: 0 },
  actions: {
    wait: { actionId: 'lab:wait', duration: '10s' },
    fail: { actionId: 'lab:backend:behaviour', parameters: { failureRate: 1 }, duration: '20s', startAfter: ['wait'] },
  },
  rollbacks: [{ name: 'healthy', actionId: 'lab:backend:restore' }],
});

/** [what is wrong, how to break a valid breaker-lab template, the message expected]. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the table breaks templates freely
const INVALID_BREAKER_LAB: Array<[string, (t: Record<string, any>) => void, string]> = [
  ['an unknown lab kind', (t) => (t.lab.kind = 'lambda'), 'lab.kind: must be one of shop, breaker-lab, got "lambda"'],
  ['a mode without a breaker mode', (t) => delete t.modes.shared.lab, "modes.shared.lab.breakerLab.mode: is required (local: the breaker in each environment's module memory; shared: in the services store)"],
  ['an unknown breaker mode', (t) => (t.modes.shared.lab.breakerLab.mode = 'global'), 'modes.shared.lab.breakerLab.mode: must be one of local, shared, got "global"'],
  ['a mode that changes the lab kind', (t) => (t.modes.local.lab.kind = 'shop'), 'modes.local.lab.kind: the lab kind is the template\'s (lab.kind), a mode cannot change it, got "shop"'],
  ['a shop field in a breaker lab', (t) => (t.lab.instances = 2), "lab.instances: applies to the shop lab, and this template's lab.kind is breaker-lab"],
  ['breaker settings in a shop template', (t) => (t.lab.kind = 'shop'), "lab.breakerLab: applies to lab.kind breaker-lab, and this template's lab.kind is shop"],
  ['a zero failure threshold', (t) => (t.lab.breakerLab.breaker.failureThreshold = 0), 'lab.breakerLab.breaker.failureThreshold: must be >= 1, got 0'],
  ['a zero recovery timeout', (t) => (t.lab.breakerLab.breaker.recoveryTimeout = '0s'), 'lab.breakerLab.breaker.recoveryTimeout: must be a duration like 500ms, 30s, 2m or PT30S (above 0, at most a day), got "0s"'],
  ['concurrency over the limit', (t) => (t.modes.local.lab.breakerLab.concurrency = 64), 'modes.local.lab.breakerLab.concurrency: must be <= 16, got 64'],
  ['an unknown breaker-lab field', (t) => (t.lab.breakerLab.coldStart = '1s'), 'lab.breakerLab: unknown field "coldStart"'],
  ['a function timeout inside the client timeout', (t) => (t.lab.breakerLab.functionTimeout = '500ms'), 'modes.local.lab.breakerLab.functionTimeout: must be longer than clientTimeout ("1s"), got "500ms"'],
  ['a trial lease inside the client timeout', (t) => (t.modes.shared.lab.breakerLab.breaker = { trialLease: '1s' }), 'modes.shared.lab.breakerLab.breaker.trialLease: must be longer than clientTimeout ("1s"), got "1s"'],
  ['a failure rate over 1', (t) => (t.actions.fail.parameters.failureRate = 1.5), 'actions.fail.parameters.failureRate: must be a number from 0 to 1, got 1.5'],
  ['a hang that is not a boolean', (t) => (t.actions.fail.parameters = { hang: 'yes' }), 'actions.fail.parameters.hang: must be true or false, got "yes"'],
  ['a negative backend latency', (t) => (t.actions.fail.parameters = { latencyMs: -5 }), 'actions.fail.parameters.latencyMs: must be a number of milliseconds from 0 to 600000, got -5'],
  ['an unknown behaviour parameter', (t) => (t.actions.fail.parameters = { errorRate: 1 }), 'actions.fail.parameters.errorRate: unknown parameter (expected failureRate, latencyMs, hang), got 1'],
  ['a shop action in a breaker lab', (t) => (t.actions.failover = { actionId: 'lab:db:failover' }), "actions.failover.actionId: lab:db:failover acts on the shop lab, and this template's lab.kind is breaker-lab"],
  ['a shop rollback in a breaker lab', (t) => (t.rollbacks = [{ name: 'r', actionId: 'lab:network:clear' }]), "rollbacks[0].actionId: lab:network:clear acts on the shop lab, and this template's lab.kind is breaker-lab"],
  ['a queue in a breaker lab', (t) => (t.lab.queue = { maxReceiveCount: 3 }), "lab.queue: applies to the shop lab, and this template's lab.kind is breaker-lab"],
  ['writes in a breaker lab', (t) => (t.traffic.writesPerSecond = 1), "traffic.writesPerSecond: the breaker lab's function takes reads only, got 1"],
  ['targets in a breaker lab', (t) => (t.targets = { db: { resourceType: 'lab:db-cluster', selectionMode: 'ALL' } }), 'targets: the breaker lab has no targets to select'],
  ['a load-balancer stop condition in a breaker lab', (t) => (t.stopConditions = [{ name: 's', metric: 'lb.healthyHosts', operator: '<', threshold: 1 }]), 'stopConditions[0].metric: the breaker lab has no load balancer (only traffic.failureRate), got "lb.healthyHosts"'],
];

describe('template validation: the circuit-breaker lab (lab.kind breaker-lab)', () => {
  it('accepts the valid breaker-lab template, and a backend action in a shop template is refused', () => {
    assert.equal(validateTemplate(validBreakerLab()).lab?.kind, 'breaker-lab');
    const shop = valid();
    (shop['actions'] as Record<string, unknown>)['fail'] = { actionId: 'lab:backend:behaviour', parameters: { failureRate: 1 }, duration: '5s' };
    assert.throws(() => validateTemplate(shop), (error: TemplateError) => error.problems.includes("actions.fail.actionId: lab:backend:behaviour acts on the breaker-lab lab, and this template's lab.kind is shop"));
  });

  it('scales the breaker lab timeline with the profile, and leaves its timeouts alone', () => {
    const template = validateTemplate(validBreakerLab());
    const quick = planRun('t', template, 'shared', PROFILES.quick).lab as PlannedBreakerLab;
    const article = planRun('t', template, 'shared', PROFILES.article).lab as PlannedBreakerLab;
    assert.equal(quick.mode, 'shared');
    assert.equal(article.breaker.recoveryTimeoutMs, 10_000);
    assert.equal(quick.breaker.recoveryTimeoutMs, 500, 'the recovery timeout is part of the timeline: scaled');
    assert.equal(quick.refreshIntervalMs, 200);
    assert.equal(quick.backendLatencyMs, 20, 'rate × latency, the environments kept busy, is the same under every profile');
    assert.equal(quick.clientTimeoutMs, 1000, 'a client timeout is not scaled');
    assert.equal(quick.breaker.trialLeaseMs, 3000, 'nor is the trial lease');
    assert.equal(quick.functionTimeoutMs, article.functionTimeoutMs);
    assert.equal(quick.breaker.failureThreshold, 3);
    const plan = planRun('t', template, 'local', PROFILES.quick);
    assert.equal(plan.traffic?.writesPerSecond, 0, 'reads only');
  });

  for (const [what, breakIt, message] of INVALID_BREAKER_LAB) {
    it(`rejects ${what}`, () => {
      const template = validBreakerLab();
      breakIt(template);
      assert.throws(
        () => validateTemplate(template),
        (error: unknown) => {
          assert.ok(error instanceof TemplateError);
          assert.ok(error.problems.some((p) => p.includes(message)), `expected a problem like\n  ${message}\ngot\n  ${error.problems.join('\n  ')}`);
          return true;
        },
      );
    });
  }
});

describe('template validation', () => {
  it('accepts the valid base template', () => {
    assert.equal(validateTemplate(valid()).title, 'Stop one instance');
  });

  it("a mode's patterns object is deep-merged over the template's preset, resolved once in the plan with the topology", () => {
    const template = valid();
    template['lab'] = { patterns: 'resilient' };
    template['modes'] = {
      naive: { lab: { patterns: 'naive', databaseProxy: false } },
      tuned: { lab: { patterns: { connection: { size: 4 }, retry: { delaysMs: [100] } } } },
    };
    const checked = validateTemplate(template);
    const naive = planRun('t', checked, 'naive', PROFILES.quick).lab as PlannedShopLab;
    // Article 4's patterns off, initialisation in the background with its backoff scaled by the quick
    // profile; Article 7's at their defaults (the SDK's client, no worker pools), its timeouts not scaled.
    const article4 = {
      readCache: { mode: 'off' },
      writeBuffer: { mode: 'off' },
      initialisation: { mode: 'background', initialDelayMs: 100, maxDelayMs: 1500 },
      dependencyClient: { connectTimeoutMs: 60_000, readTimeoutMs: 60_000, retries: 4, fallback: 'error' },
      workerPools: { mode: 'off' },
    };
    assert.deepEqual(naive.patterns, { connection: { kind: 'persistent' }, queryTimeoutMs: null, retry: { delaysMs: [] }, readWriteSplit: false, circuitBreaker: { mode: 'off' }, ...article4 });
    assert.equal(naive.databaseProxy, false);
    const tuned = planRun('t', checked, 'tuned', PROFILES.quick).lab as PlannedShopLab;
    assert.deepEqual(tuned.patterns, {
      connection: { kind: 'pool', size: 4, validateAfterIdleMs: 1000 },
      queryTimeoutMs: 5000,
      retry: { delaysMs: [100] },
      readWriteSplit: true,
      circuitBreaker: { mode: 'off' },
      ...article4,
    });
    assert.equal(tuned.databaseProxy, true, 'the database proxy is in the path unless a mode says otherwise');
  });

  it("scales the queue's durations and the patterns' waits with the profile, and leaves timeouts alone", () => {
    const template = valid();
    template['lab'] = { queue: { visibilityTimeout: '60s' } };
    template['modes'] = { resilient: { lab: { patterns: 'resilient' } }, graceful: { lab: { patterns: 'graceful', queue: { maxReceiveCount: 4 } } } };
    const checked = validateTemplate(template);
    const quick = planRun('t', checked, 'graceful', PROFILES.quick).lab as PlannedShopLab;
    assert.deepEqual(quick.queue, { visibilityTimeoutMs: 3000, receiveWaitTimeMs: 1000, maxReceiveCount: 4 }, "the template's 60 s and Article 4's 20 s long poll, a twentieth; a count is not a duration");
    assert.equal(quick.patterns.circuitBreaker.mode === 'off' ? 0 : quick.patterns.circuitBreaker.recoveryTimeoutMs, 1500, "Article 4's 30 s recovery timeout, a twentieth");
    assert.deepEqual(quick.patterns.readCache, { mode: 'write-through', refreshMs: 50 });
    assert.deepEqual(quick.patterns.initialisation, { mode: 'background', initialDelayMs: 100, maxDelayMs: 1500 }, "Article 4's 2 s doubling to 30 s, a twentieth");
    assert.equal(quick.patterns.queryTimeoutMs, 5000, 'a statement timeout is the database physics: not scaled');
    assert.deepEqual(quick.patterns.retry, { delaysMs: [500, 1000, 2000] }, 'retry waits are not scaled (as before)');
    assert.equal(quick.databaseProxyTargets, 'registered');
    assert.equal(quick.createSchema, true);
    const article = planRun('t', checked, 'graceful', PROFILES.article).lab as PlannedShopLab;
    assert.deepEqual(article.queue, { visibilityTimeoutMs: 60_000, receiveWaitTimeMs: 20_000, maxReceiveCount: 4 });
    assert.equal(article.patterns.circuitBreaker.mode === 'off' ? 0 : article.patterns.circuitBreaker.recoveryTimeoutMs, 30_000);
    const resilient = planRun('t', checked, 'resilient', PROFILES.demo).lab as PlannedShopLab;
    // demo: 0.08 of the article's time.
    assert.deepEqual(resilient.queue, { visibilityTimeoutMs: 4800, receiveWaitTimeMs: 1600, maxReceiveCount: 10 }, "the template's queue applies to every mode; Article 4's count by default");
    assert.deepEqual(resilient.patterns.initialisation, { mode: 'background', initialDelayMs: 160, maxDelayMs: 2400 });
  });

  it("takes a receive wait of 0s (SQS's short polling) and keeps it 0 under every profile", () => {
    // The template's format was "duration" (above 0), so SQS's short polling could not be asked for, and a 0 would have planned to 1 ms.
    const template = valid();
    template['lab'] = { queue: { receiveWaitTime: '0s' } };
    const lab = planRun('t', validateTemplate(template), 'resilient', PROFILES.quick).lab as PlannedShopLab;
    assert.equal(lab.queue.receiveWaitTimeMs, 0);
  });

  it('refuses a visibility timeout the profile scales below 100 ms, naming the field, the value and the profile', () => {
    // A visibility timeout scaled to a few ms redelivers every message while the worker applies it.
    const template = valid();
    template['modes'] = { resilient: { lab: { patterns: 'resilient', queue: { visibilityTimeout: '1s' } } } };
    const checked = validateTemplate(template);
    assert.throws(
      () => planRun('t', checked, 'resilient', PROFILES.quick),
      (error: Error) => error instanceof PlanError && error.message.startsWith('modes.resilient.lab.queue.visibilityTimeout: "1s" plans to 50 ms under the quick profile (time scale 0.05)'),
    );
    assert.equal((planRun('t', checked, 'resilient', PROFILES.article).lab as PlannedShopLab).queue.visibilityTimeoutMs, 1000, 'the article profile plans it as given');
  });

  it('plans a database that is not there yet and a schema only the instances create (init-race)', () => {
    const template = valid();
    template['lab'] = { databaseProxyTargets: 'deregistered', createSchema: false };
    template['modes'] = { once: { lab: { patterns: { initialisation: { mode: 'once' } } } } };
    const lab = planRun('t', validateTemplate(template), 'once', PROFILES.quick).lab as PlannedShopLab;
    assert.equal(lab.databaseProxyTargets, 'deregistered');
    assert.equal(lab.createSchema, false);
    assert.deepEqual(lab.patterns.initialisation, { mode: 'once' });
  });

  for (const [what, breakIt, message] of INVALID) {
    it(`rejects ${what}`, () => {
      const template = valid();
      breakIt(template);
      assert.throws(
        () => validateTemplate(template),
        (error: unknown) => {
          assert.ok(error instanceof TemplateError);
          assert.ok(
            error.problems.some((p) => p.startsWith(message) || p.includes(message)),
            `expected a problem like\n  ${message}\ngot\n  ${error.problems.join('\n  ')}`,
          );
          return true;
        },
      );
    });
  }

  it('reports an invalid name once', () => {
    const template = valid();
    template.modes = { 'Naive Mode': {} };
    assert.throws(() => validateTemplate(template), (error: TemplateError) => error.problems.length === 1);
  });

  it('reports every problem at once', () => {
    const template = valid();
    template.duration = 'soon';
    (template.lab as unknown) = { instances: 0 };
    assert.throws(() => validateTemplate(template), (error: TemplateError) => error.problems.length === 2);
  });

  it('parses YAML and JSON, and names a syntax error', () => {
    assert.equal(parseTemplate(JSON.stringify(valid()), 't.json').duration, '60s');
    assert.throws(() => parseTemplate('title: [unclosed', 't.yaml'), /t\.yaml is not a valid experiment template:\n {2}cannot be parsed/);
    assert.throws(() => parseTemplate('{"title":', 't.json'), /cannot be parsed/);
  });

  it('accepts the built-in templates', () => {
    for (const name of ['instance-stop', 'db-failover', 'db-outage', 'init-race', 'dependency-outage', 'breaker-lab']) {
      const text = readFileSync(new URL(`../../experiments/${name}.yaml`, import.meta.url), 'utf8');
      assert.ok(parseTemplate(text, `${name}.yaml`).actions);
    }
  });

  it('refuses a duplicate key in a JSON template, naming the key and where', () => {
    // JSON.parse keeps the last of two equal keys: the first action was silently dropped.
    const text = '{"title":"t","description":"d","duration":"60s","modes":{"naive":{}},\n"actions":{"a":{"actionId":"lab:wait","duration":"1s"},\n"a":{"actionId":"lab:wait","duration":"2s"}}}';
    assert.throws(() => parseTemplate(text, 't.json'), (error: TemplateError) => {
      assert.deepEqual(error.problems, ['cannot be parsed: line 3, column 1: duplicate key "a" in actions (first at line 2, column 12); JSON would keep only the last']);
      return true;
    });
    assert.throws(() => parseTemplate('title: t\ntitle: u\n', 't.yaml'), /line 2, column 1: duplicate key "title"/);
  });

  it('a syntax error names the line and column, never the text', () => {
    // JSON.parse's message quotes the text around the error: validating /proc/self/environ printed the environment.
    for (const [text, source] of [['{"title":\n  SECRET_TOKEN_1}', 't.json'], ['title: "SECRET_TOKEN_2 \\q"', 't.yaml']] as const) {
      assert.throws(() => parseTemplate(text, source), (error: TemplateError) => {
        assert.doesNotMatch(error.message, /SECRET_TOKEN/);
        assert.match(error.message, /cannot be parsed: line \d+, column \d+: /);
        return true;
      });
    }
    assert.throws(() => parseTemplate('SECRET_TOKEN_3=abc', 't.yaml'), (error: TemplateError) => {
      assert.deepEqual(error.problems, ['(template): must be a mapping of template fields, got a string']);
      return true;
    });
  });

  it('validating /proc/self/environ prints none of the environment', async () => {
    process.env['CHAOS_LAB_TEST_SECRET'] = 'hunter2-secret-value';
    try {
      await assert.rejects(loadTemplate('/proc/self/environ'), (error: TemplateError) => {
        assert.doesNotMatch(error.message, /hunter2-secret-value|CHAOS_LAB_TEST_SECRET|PATH=/);
        return true;
      });
    } finally {
      delete process.env['CHAOS_LAB_TEST_SECRET'];
    }
  });

  it('refuses a template file over 1 MB, and a FIFO or a device, without reading them whole', async () => {
    // The file was read whole whatever its size (a 60 MB template took 2.5 GB), and a FIFO blocked the read forever.
    const dir = await mkdtemp(join(tmpdir(), 'chaos-lab-template-'));
    try {
      const big = join(dir, 'big.yaml');
      await writeFile(big, `# ${'x'.repeat(MAX_TEMPLATE_BYTES)}\n`);
      await assert.rejects(loadTemplate(big), /cannot be read: larger than 1048576 bytes/);
      const fifo = join(dir, 'fifo.yaml');
      execFileSync('mkfifo', [fifo]);
      await assert.rejects(loadTemplate(fifo), /cannot be read: not a regular file \(a device, pipe or socket\)/);
      await assert.rejects(loadTemplate('/dev/zero'), /cannot be read: not a regular file/);
      await assert.rejects(loadTemplate(dir), /cannot be read: not a regular file \(a folder\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads a /proc file that stats as empty with a byte cap', { skip: !existsSync('/proc/kallsyms') && 'no /proc/kallsyms here' }, async () => {
    // /proc files stat as size 0, so a size check alone let a multi-megabyte one be read whole.
    assert.equal(statSync('/proc/kallsyms').size, 0);
    await assert.rejects(loadTemplate('/proc/kallsyms'), /cannot be read: larger than 1048576 bytes|not a valid experiment template/);
  });

  it('reports schema problems and reference problems in one run', () => {
    // The reference checks ran only once the schema passed: fixing one list of problems revealed another.
    const template = valid();
    template.duration = 'soon';
    (template.actions as Record<string, Record<string, unknown>>)['stop']!['startAfter'] = ['ghost'];
    (template.actions as Record<string, Record<string, unknown>>)['stop']!['targets'] = { Instances: 'nope' };
    (template.actions as Record<string, unknown>)['odd'] = { actionId: 'lab:instance:reboot' };
    assert.throws(() => validateTemplate(template), (error: TemplateError) => {
      assert.deepEqual(error.problems.toSorted(), [
        'actions.odd.actionId: must be one of lab:wait, lab:instance:stop, lab:instance:kill, lab:instance:terminate, lab:instance:pause, lab:db:failover, lab:db-proxy:deregister, lab:db-proxy:register, lab:network:disrupt, lab:network:clear, lab:backend:behaviour, got "lab:instance:reboot"',
        'actions.stop.startAfter: no action named "ghost"',
        'actions.stop.targets.Instances: no target named "nope"',
        'duration: must be a duration like 500ms, 30s, 2m or PT30S (above 0, at most a day), got "soon"',
      ]);
      return true;
    });
  });

  it('names a deeply nested bad value by its type instead of overflowing the stack', () => {
    let deep: unknown = [];
    for (let level = 0; level < 20_000; level += 1) deep = [deep];
    const template = valid();
    template.title = deep;
    assert.throws(() => validateTemplate(template), /title: must be string, got an array of 1/);
  });
});

describe("template validation: Article 7's endpoint probe", () => {
  const withProbe = (endpointProbe: unknown): Record<string, unknown> => ({ ...valid(), endpointProbe });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the table breaks templates freely
  const INVALID_ENDPOINT_PROBE: Array<[string, any, string]> = [
    ['a path without its leading /', { endpoints: { reviews: 'products/3/reviews' } }, 'endpointProbe.endpoints.reviews: must match pattern "^/", got "products/3/reviews"'],
    ['no endpoints', { every: '1s', endpoints: {} }, 'endpointProbe.endpoints: needs at least 1, got {}'],
    ['nine endpoints', { endpoints: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`e${i}`, `/e${i}`])) }, 'endpointProbe.endpoints: takes at most 8'],
    ['an endpoint name with a space', { endpoints: { 'the reviews': '/products/3/reviews' } }, 'endpointProbe.endpoints: "the reviews" is not a valid name'],
    ['a path that is not a string', { endpoints: { promo: 7 } }, 'endpointProbe.endpoints.promo: must be string, got 7'],
    ['a bad cadence', { every: 'often', endpoints: { promo: '/promo' } }, 'endpointProbe.every: must be a duration above 0 and at most 60s (Article 7 uses 1s for every, 5s for the timeout), got "often"'],
    ['a zero timeout', { timeout: '0s', endpoints: { promo: '/promo' } }, 'endpointProbe.timeout: must be a duration above 0 and at most 60s (Article 7 uses 1s for every, 5s for the timeout), got "0s"'],
    ['a timeout past 60 s', { timeout: '61s', endpoints: { promo: '/promo' } }, 'endpointProbe.timeout: must be a duration above 0 and at most 60s (Article 7 uses 1s for every, 5s for the timeout), got "61s"'],
    ['a cadence past 60 s', { every: '2m', endpoints: { promo: '/promo' } }, 'endpointProbe.every: must be a duration above 0 and at most 60s (Article 7 uses 1s for every, 5s for the timeout), got "2m"'],
    ['an unknown field', { endpoints: { promo: '/promo' }, path: '/promo' }, 'endpointProbe: unknown field "path"'],
    ['no endpoints field', { every: '1s' }, 'endpointProbe.endpoints: is required'],
  ];
  for (const [what, probe, message] of INVALID_ENDPOINT_PROBE) {
    it(`rejects ${what}, naming the field and the value`, () => {
      assert.throws(
        () => validateTemplate(withProbe(probe)),
        (error: unknown) => {
          assert.ok(error instanceof TemplateError);
          assert.ok(error.problems.some((p) => p.includes(message)), `expected a problem like\n  ${message}\ngot\n  ${error.problems.join('\n  ')}`);
          return true;
        },
      );
    });
  }

  it('a JSON template cannot name an endpoint twice', () => {
    const text = JSON.stringify(withProbe({ endpoints: { promo: '/promo' } })).replace('{"promo":"/promo"}', '{"promo":"/promo",\n"promo":"/products"}');
    assert.throws(() => parseTemplate(text, 't.json'), /duplicate key "promo"/);
    assert.throws(() => parseTemplate('title: t\ndescription: d\nduration: 60s\nmodes: { a: {} }\nactions: { w: { actionId: lab:wait, duration: 1s } }\nendpointProbe:\n  endpoints:\n    promo: /promo\n    promo: /products\n', 't.yaml'), /duplicate key/i);
  });

  it('plans the cadence scaled by the profile and the client timeout not, with defaults of 1 s and 5 s', () => {
    const template = validateTemplate(withProbe({ every: '2s', timeout: '3s', endpoints: { products: '/products', promo: '/promo' } }));
    assert.deepEqual(planRun('t', template, 'naive', PROFILES.quick).endpointProbe, { everyMs: 100, timeoutMs: 3000, endpoints: { products: '/products', promo: '/promo' } });
    const defaults = validateTemplate(withProbe({ endpoints: { products: '/products' } }));
    assert.deepEqual(planRun('t', defaults, 'naive', PROFILES.article).endpointProbe, { everyMs: 1000, timeoutMs: 5000, endpoints: { products: '/products' } });
    assert.equal(planRun('t', validateTemplate(valid()), 'naive', PROFILES.quick).endpointProbe, undefined, 'no section, no probe');
  });

  it("accepts the built-in dependency-outage and plans Article 7's probe and timeline under the quick profile", () => {
    const text = readFileSync(new URL('../../experiments/dependency-outage.yaml', import.meta.url), 'utf8');
    const template = parseTemplate(text, 'dependency-outage.yaml');
    assert.deepEqual(Object.keys(template.modes), ['coupled', 'isolated', 'isolated-stale']);
    for (const mode of Object.keys(template.modes)) {
      const plan = planRun('dependency-outage', template, mode, PROFILES.quick);
      assert.equal(plan.traffic, undefined, 'Article 7 runs only the probe');
      assert.deepEqual(plan.endpointProbe, { everyMs: 50, timeoutMs: 5000, endpoints: { products: '/products', reviews: '/products/3/reviews', promo: '/promo' } });
      assert.deepEqual(plan.actions.map((a) => [a.name, a.durationMs]), [['baseline', 1500], ['cut-reviews', 6000], ['reviews-back', 1500], ['cut-promo', 6000]]);
      assert.equal(plan.durationMs, 17_500, 'the run goes on 2.5 s (50 s of the article) past the promo cut, to see the recovery');
    }
  });
});
