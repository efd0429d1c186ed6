// Experiment templates: JSON or YAML, checked against the published JSON Schema
// (schema/experiment.schema.json) and then for what a schema cannot say (references between
// actions and targets, cycles, each action's parameters). Every problem names the field and
// the bad value.
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { MAX_LEASE_MS } from '../lab/fault-proxy/fault-type.ts';
import { isPatternsInput, mergePatternsInputs, PATTERNS_SCHEMA, PatternsError, resolvePatterns, type PatternsInput } from '../shop/patterns.ts';
import { ACTIONS, type ResourceType } from './actions.ts';
import type { BreakerLabSettings } from './breaker-lab-plan.ts';
import { isDuration, isDurationOrZero, parseDurationMs } from './duration.ts';
import { parseSelectionMode } from './target-selection.ts';
import type { LabKind } from './lab-kind.ts';
import { labKindOf, labKindProblems } from './template-lab-kind.ts';
import { shopLabProblems } from './template-shop-lab.ts';
import { parseTemplateText, readTemplateText, TemplateTextError } from './template-text.ts';
import { isRecord, kindOf, show } from './template-values.ts';

export { MAX_TEMPLATE_BYTES } from './template-text.ts';
export { MAX_RECEIVE_WAIT_MS, MAX_VISIBILITY_TIMEOUT_MS } from './template-shop-lab.ts';

/** The longest health-check interval or timeout: the articles use 10 s and 5 s; a longer one stalls start-up. */
export const MAX_HEALTH_CHECK_MS = 60_000;
/** The longest grace period: the articles (and the Auto Scaling default) use 300 s. */
export const MAX_GRACE_PERIOD_MS = 600_000;
/**
 * The longest cadence or client timeout of Article 7's endpoint probe: the article uses 1 s and 5 s;
 * a longer timeout holds the end of every run that long while the probe drains its requests.
 */
export const MAX_ENDPOINT_PROBE_MS = 60_000;
// The lease margin network:disrupt adds to a fault's duration (LEASE_MARGIN_MS in actions.ts): the
// fault proxy refuses a lease over MAX_LEASE_MS, so a longer fault validated and then failed at run time.
const LEASE_MARGIN_MS = 5000;
/** The longest duration of a fault action (anything but lab:wait). */
export const MAX_FAULT_DURATION_MS = MAX_LEASE_MS - LEASE_MARGIN_MS;

/** Lab settings a template (and each of its modes) can set. */
export interface LabSettings {
  /** Which lab the run starts (the template's lab only; default shop). */
  kind?: LabKind;
  /** The circuit-breaker lab's settings (kind breaker-lab). */
  breakerLab?: BreakerLabSettings;
  instances?: number;
  /** What the shop instances do: a preset name, or a preset and overrides (schema/patterns.schema.json). */
  patterns?: PatternsInput;
  /** Topology: the database proxy is in the instances' path (default true). */
  databaseProxy?: boolean;
  loadBalancer?: {
    retry?: boolean;
    ejection?: { consecutiveFailures: number; duration: string };
    healthCheck?: { interval?: string; timeout?: string; healthyThreshold?: number; unhealthyThreshold?: number };
  };
  healthCheckGracePeriod?: string;
  /** The order queue's settings (SQS semantics), when the patterns' writeBuffer is queue; durations scaled by the profile. */
  queue?: { visibilityTimeout?: string; receiveWaitTime?: string; maxReceiveCount?: number };
  /** The database proxy's targets when the lab starts (default registered): deregistered, the database is not there yet. */
  databaseProxyTargets?: 'registered' | 'deregistered';
  /** The lab creates the shop's tables before the instances start (default true). */
  createSchema?: boolean;
}

export interface TargetDefinition {
  resourceType: ResourceType;
  resourceIds?: string[];
  resourceTags?: Record<string, string>;
  selectionMode: string;
}

export interface ActionSpec {
  actionId: string;
  description?: string;
  targets?: Record<string, string>;
  parameters?: Record<string, unknown>;
  duration?: string;
  startAfter?: string[];
}

export type StopMetric = 'lb.healthyHosts' | 'lb.unhealthyHosts' | 'lb.http5xxRate' | 'traffic.failureRate';

export interface StopConditionSpec {
  name: string;
  metric: StopMetric;
  operator: '>' | '>=' | '<' | '<=';
  threshold: number;
  for?: string;
  window?: string;
}

export interface HypothesisProbeSpec {
  name: string;
  path: string;
  tolerance: { status: number; body?: Record<string, unknown> };
}

/** A validated experiment template. */
export interface ExperimentTemplate {
  title: string;
  description: string;
  tags?: Record<string, string>;
  duration: string;
  lab?: LabSettings;
  modes: Record<string, { description?: string; lab?: LabSettings }>;
  traffic?: { readsPerSecond?: number; writesPerSecond?: number; productId?: number; quantity?: number; timeout?: string };
  probe?: { every?: string; path?: string; timeout?: string };
  /** Article 7's probe: every endpoint every `every` (open loop), each with a client timeout. */
  endpointProbe?: { every?: string; timeout?: string; endpoints: Record<string, string> };
  targets?: Record<string, TargetDefinition>;
  actions: Record<string, ActionSpec>;
  stopConditions?: StopConditionSpec[];
  /** checkBefore false: only the check after the run counts (the run starts where it cannot hold). */
  steadyStateHypothesis?: { title: string; checkBefore?: boolean; probes: HypothesisProbeSpec[] };
  rollbacks?: Array<{ name: string; actionId: string }>;
}

/** A template that is not valid: every problem, each naming the field and the bad value. */
export class TemplateError extends Error {
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`${source} is not a valid experiment template:\n  ${problems.join('\n  ')}`);
    this.name = 'TemplateError';
    this.problems = problems;
  }
}

export const EXPERIMENT_SCHEMA = JSON.parse(readFileSync(new URL('../../schema/experiment.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;

/** A limit as a template would write it: 60s, 895s. */
const asTemplateDuration = (ms: number): string => `${ms / 1000}s`;

const atMost = (maxMs: number) => (text: string): boolean => isDuration(text) && parseDurationMs(text) <= maxMs;

const FORMATS: Record<string, { validate: (text: string) => boolean; expected: string }> = {
  duration: { validate: isDuration, expected: 'a duration like 500ms, 30s, 2m or PT30S (above 0, at most a day)' },
  'duration-or-zero': { validate: isDurationOrZero, expected: 'a duration like 500ms, 20s or PT20S, or 0s (at most a day)' },
  'health-check-duration': {
    validate: atMost(MAX_HEALTH_CHECK_MS),
    expected: `a duration above 0 and at most ${asTemplateDuration(MAX_HEALTH_CHECK_MS)} (the articles use 10s for the interval, 5s for the timeout)`,
  },
  'endpoint-probe-duration': {
    validate: atMost(MAX_ENDPOINT_PROBE_MS),
    expected: `a duration above 0 and at most ${asTemplateDuration(MAX_ENDPOINT_PROBE_MS)} (Article 7 uses 1s for every, 5s for the timeout)`,
  },
  'grace-period': {
    validate: atMost(MAX_GRACE_PERIOD_MS),
    expected: `a duration above 0 and at most ${asTemplateDuration(MAX_GRACE_PERIOD_MS)} (the articles use 300s)`,
  },
  'selection-mode': {
    validate: (text) => {
      try {
        parseSelectionMode(text);
        return true;
      } catch {
        return false;
      }
    },
    expected: 'ALL, COUNT(n) with n >= 1, or PERCENT(n) with 0 < n <= 100',
  },
};

const ajv = new Ajv({ allErrors: true, strict: true });
for (const [name, format] of Object.entries(FORMATS)) ajv.addFormat(name, { type: 'string', validate: format.validate });
// A mode's patterns are checked against the published patterns schema, which the template's refers to.
ajv.addSchema(PATTERNS_SCHEMA);
const validateSchema = ajv.compile(EXPERIMENT_SCHEMA);

/** A JSON pointer as a dotted path people read: /actions/stop-one/actionId → actions.stop-one.actionId. */
function fieldOf(pointer: string): string {
  if (pointer === '') return '(template)';
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part, index) => (/^\d+$/.test(part) ? `[${part}]` : index === 0 ? part : `.${part}`))
    .join('');
}

function valueAt(data: unknown, pointer: string): unknown {
  if (pointer === '') return data;
  let value: unknown = data;
  for (const part of pointer.slice(1).split('/')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return value;
}


function describeSchemaError(error: ErrorObject, data: unknown): string {
  const field = fieldOf(error.instancePath);
  // The whole file is the value here: say what it is, not what it holds (it may be /proc/self/environ).
  if (error.instancePath === '' && error.keyword === 'type') return `(template): must be a mapping of template fields, got ${kindOf(data)}`;
  const got = `got ${show(valueAt(data, error.instancePath))}`;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${field === '(template)' ? '' : `${field}.`}${String(params['missingProperty'])}: is required`;
    case 'additionalProperties': {
      const name = String(params['additionalProperty']);
      // Old templates: strategy meant the shop's connection code and the lab's topology at once.
      if (name === 'strategy' && /(^|\.)lab$/.test(field)) {
        return `${field}.strategy: is gone: say what the shop does with patterns (naive, resilient, …) and whether the database proxy is in the path with databaseProxy (naive was patterns: naive, databaseProxy: false)`;
      }
      return `${field}: unknown field ${JSON.stringify(name)}`;
    }
    case 'enum':
      return `${field}: must be one of ${(params['allowedValues'] as unknown[]).join(', ')}, ${got}`;
    case 'format':
      return `${field}: must be ${FORMATS[params['format'] as string]?.expected ?? params['format']}, ${got}`;
    case 'minProperties':
    case 'minItems':
      return `${field}: needs at least ${String(params['limit'])}, ${got}`;
    case 'maxProperties':
    case 'maxItems':
      return `${field}: takes at most ${String(params['limit'])}, ${got}`;
    case 'propertyNames': {
      const name = String(params['propertyName']);
      if (field === 'modes' && name === 'compare') return `modes: "compare" is reserved (--mode compare runs every mode)`;
      const rule = field === 'modes' ? 'a lowercase letter, then lowercase letters, digits and -, up to 32' : 'a letter or digit, then letters, digits, - and _, up to 64';
      return `${field}: ${JSON.stringify(name)} is not a valid name (${rule})`;
    }
    default:
      return `${field}: ${error.message ?? 'is invalid'}, ${got}`;
  }
}

const stringsIn = (value: unknown): string[] => (Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []);

/**
 * Checks what the schema cannot: references, cycles, fault durations and parameters per action. Runs on
 * whatever parts are well-formed, even when the schema failed elsewhere, so one run reports every problem.
 */
function semanticProblems(data: unknown): string[] {
  const problems: string[] = [];
  if (!isRecord(data)) return problems;
  const targets = isRecord(data['targets']) ? data['targets'] : {};
  const actions = isRecord(data['actions']) ? data['actions'] : {};
  for (const [name, target] of Object.entries(targets)) {
    if (isRecord(target) && target['resourceIds'] !== undefined && target['resourceTags'] !== undefined) problems.push(`targets.${name}: give resourceIds or resourceTags, not both`);
  }
  for (const [name, action] of Object.entries(actions)) {
    if (!isRecord(action)) continue;
    const at = `actions.${name}`;
    for (const after of stringsIn(action['startAfter'])) {
      if (after === name) problems.push(`${at}.startAfter: an action cannot start after itself, got ${show(after)}`);
      else if (!(after in actions)) problems.push(`${at}.startAfter: no action named ${show(after)}`);
    }
    const actionId = action['actionId'];
    const definition = typeof actionId === 'string' ? ACTIONS.get(actionId) : undefined;
    if (!definition) continue; // the schema says so
    const given = isRecord(action['targets']) ? action['targets'] : {};
    if (definition.target) {
      const { key, resourceType } = definition.target;
      const targetName = given[key];
      const target = typeof targetName === 'string' ? targets[targetName] : undefined;
      if (targetName === undefined) problems.push(`${at}.targets.${key}: is required by ${definition.id} (a target of type ${resourceType})`);
      else if (typeof targetName !== 'string') {
        // the schema says so
      } else if (!(targetName in targets)) problems.push(`${at}.targets.${key}: no target named ${show(targetName)}`);
      else if (isRecord(target) && typeof target['resourceType'] === 'string' && target['resourceType'] !== resourceType) {
        problems.push(`${at}.targets.${key}: ${definition.id} needs a target of type ${resourceType}, got ${show(targetName)} of type ${target['resourceType']}`);
      }
    }
    for (const key of Object.keys(given)) {
      if (key !== definition.target?.key) problems.push(`${at}.targets.${key}: ${definition.id} takes ${definition.target ? `only ${definition.target.key}` : 'no targets'}, got ${show(given[key])}`);
    }
    const duration = action['duration'];
    if (definition.duration === 'required' && duration === undefined) problems.push(`${at}.duration: is required by ${definition.id}`);
    if (definition.duration === 'none' && duration !== undefined) problems.push(`${at}.duration: ${definition.id} takes no duration, got ${show(duration)}`);
    if (definition.labKind === 'shop' && typeof duration === 'string' && isDuration(duration) && parseDurationMs(duration) > MAX_FAULT_DURATION_MS) {
      problems.push(
        `${at}.duration: ${definition.id} lasts at most ${asTemplateDuration(MAX_FAULT_DURATION_MS)} (the fault proxy's ${MAX_LEASE_MS / 60_000}-minute lease, less a ${LEASE_MARGIN_MS / 1000} s margin), got ${show(duration)}`,
      );
    }
    const parameters = action['parameters'] ?? {};
    if (isRecord(parameters)) problems.push(...definition.checkParameters(parameters, `${at}.parameters`));
  }
  // An action with an undo and no duration holds until the run ends: nothing can start after it.
  for (const [name, action] of Object.entries(actions)) {
    if (!isRecord(action)) continue;
    for (const after of stringsIn(action['startAfter'])) {
      const before = actions[after];
      const beforeId = isRecord(before) && typeof before['actionId'] === 'string' ? before['actionId'] : undefined;
      const holds = beforeId !== undefined && ACTIONS.get(beforeId)?.duration === 'optional' && isRecord(before) && before['duration'] === undefined;
      if (holds) problems.push(`actions.${name}.startAfter: ${show(after)} has no duration, so it holds until the run ends and ${name} could never start`);
    }
  }
  const graph: Record<string, string[]> = {};
  for (const [name, action] of Object.entries(actions)) graph[name] = isRecord(action) ? stringsIn(action['startAfter']) : [];
  const cycle = findCycle(graph);
  if (cycle) problems.push(`actions: startAfter makes a cycle: ${cycle.join(' -> ')}`);
  const kind = labKindOf(data);
  problems.push(...labKindProblems(data, kind));
  if (kind === 'shop') problems.push(...patternsProblems(data), ...shopLabProblems(data));
  const conditions = Array.isArray(data['stopConditions']) ? (data['stopConditions'] as unknown[]) : [];
  for (const [index, condition] of conditions.entries()) {
    if (!isRecord(condition)) continue;
    const { metric, threshold } = condition;
    if (typeof metric === 'string' && metric.endsWith('Rate') && typeof threshold === 'number' && (threshold < 0 || threshold > 1)) {
      problems.push(`stopConditions[${index}].threshold: ${metric} is a fraction from 0 to 1, got ${threshold}`);
    }
  }
  return problems;
}

/** Each mode's patterns (the mode's over the template's), resolved: what the schema cannot say (a shared breaker without a store, …). */
function patternsProblems(data: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const modes = isRecord(data['modes']) ? data['modes'] : {};
  const base = isRecord(data['lab']) ? data['lab']['patterns'] : undefined;
  if (base !== undefined && !isPatternsInput(base)) return problems; // the schema says so
  for (const [name, mode] of Object.entries(modes)) {
    const own = isRecord(mode) && isRecord(mode['lab']) ? mode['lab']['patterns'] : undefined;
    if (own !== undefined && !isPatternsInput(own)) continue; // the schema says so
    const merged = mergePatternsInputs(base, own);
    if (merged === undefined) continue;
    try {
      resolvePatterns(merged, own !== undefined ? `modes.${name}.lab.patterns` : 'lab.patterns');
    } catch (error) {
      if (!(error instanceof PatternsError)) throw error;
      problems.push(...error.problems);
    }
  }
  return problems;
}

function findCycle(actions: Record<string, string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...path.slice(path.indexOf(name)), name];
    state.set(name, 'visiting');
    for (const after of actions[name] ?? []) {
      if (!(after in actions) || after === name) continue;
      const cycle = visit(after, [...path, name]);
      if (cycle) return cycle;
    }
    state.set(name, 'done');
    return undefined;
  };
  for (const name of Object.keys(actions)) {
    const cycle = visit(name, []);
    if (cycle) return cycle;
  }
  return undefined;
}

/** Validates parsed data as a template; throws TemplateError listing every problem, schema and references alike. */
export function validateTemplate(data: unknown, source = 'template'): ExperimentTemplate {
  const problems: string[] = [];
  if (!validateSchema(data)) {
    // An invalid name is reported once, by its propertyNames error, not again by the rule it broke;
    // "must match the else schema" repeats the errors found inside the branch.
    const errors = (validateSchema.errors ?? []).filter((error) => error.propertyName === undefined && error.keyword !== 'if');
    problems.push(...errors.map((error) => describeSchemaError(error, data)));
  }
  problems.push(...semanticProblems(data));
  if (problems.length > 0) throw new TemplateError(source, [...new Set(problems)]);
  return data as unknown as ExperimentTemplate;
}

/**
 * Parses JSON (by the .json extension, refusing duplicate keys) or YAML text and validates it. A syntax
 * error names the line, the column and the problem, never the text there.
 */
export function parseTemplate(text: string, source = 'template'): ExperimentTemplate {
  let data: unknown;
  try {
    data = parseTemplateText(text, source);
  } catch (error) {
    if (error instanceof TemplateTextError) throw new TemplateError(source, error.problems);
    throw error;
  }
  return validateTemplate(data, source);
}

/** Reads (at most MAX_TEMPLATE_BYTES, from a regular file) and validates a template file. */
export async function loadTemplate(file: string): Promise<ExperimentTemplate> {
  let text: string;
  try {
    text = await readTemplateText(file);
  } catch (error) {
    if (error instanceof TemplateTextError) throw new TemplateError(file, error.problems);
    throw error;
  }
  return parseTemplate(text, file);
}
