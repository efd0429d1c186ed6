// Experiment templates: JSON or YAML, checked against the published JSON Schema
// (schema/experiment.schema.json) and then for what a schema cannot say (references between
// actions and targets, cycles, each action's parameters). Every problem names the field and
// the bad value.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { ACTIONS, type ResourceType } from './actions.ts';
import { isDuration } from './duration.ts';
import { parseSelectionMode } from './target-selection.ts';

/** Lab settings a template (and each of its modes) can set. */
export interface LabSettings {
  instances?: number;
  strategy?: 'naive' | 'resilient';
  loadBalancer?: {
    retry?: boolean;
    ejection?: { consecutiveFailures: number; duration: string };
    healthCheck?: { interval?: string; timeout?: string; healthyThreshold?: number; unhealthyThreshold?: number };
  };
  healthCheckGracePeriod?: string;
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
  targets?: Record<string, TargetDefinition>;
  actions: Record<string, ActionSpec>;
  stopConditions?: StopConditionSpec[];
  steadyStateHypothesis?: { title: string; probes: HypothesisProbeSpec[] };
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

const FORMATS: Record<string, { validate: (text: string) => boolean; expected: string }> = {
  duration: { validate: isDuration, expected: 'a duration like 500ms, 30s, 2m or PT30S (above 0, at most a day)' },
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

const show = (value: unknown): string => (value === undefined ? 'nothing' : JSON.stringify(value));

function describeSchemaError(error: ErrorObject, data: unknown): string {
  const field = fieldOf(error.instancePath);
  const got = `got ${show(valueAt(data, error.instancePath))}`;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${field === '(template)' ? '' : `${field}.`}${String(params['missingProperty'])}: is required`;
    case 'additionalProperties':
      return `${field}: unknown field ${JSON.stringify(params['additionalProperty'])}`;
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

/** Checks what the schema cannot: references, cycles, durations and parameters per action. */
function semanticProblems(template: ExperimentTemplate): string[] {
  const problems: string[] = [];
  const targets = template.targets ?? {};
  for (const [name, target] of Object.entries(targets)) {
    if (target.resourceIds && target.resourceTags) problems.push(`targets.${name}: give resourceIds or resourceTags, not both`);
  }
  for (const [name, action] of Object.entries(template.actions)) {
    const at = `actions.${name}`;
    const definition = ACTIONS.get(action.actionId);
    if (!definition) continue; // the schema already said so
    for (const after of action.startAfter ?? []) {
      if (after === name) problems.push(`${at}.startAfter: an action cannot start after itself, got ${JSON.stringify(after)}`);
      else if (!(after in template.actions)) problems.push(`${at}.startAfter: no action named ${JSON.stringify(after)}`);
    }
    const given = action.targets ?? {};
    if (definition.target) {
      const { key, resourceType } = definition.target;
      const targetName = given[key];
      if (targetName === undefined) problems.push(`${at}.targets.${key}: is required by ${action.actionId} (a target of type ${resourceType})`);
      else if (!(targetName in targets)) problems.push(`${at}.targets.${key}: no target named ${JSON.stringify(targetName)}`);
      else if (targets[targetName]!.resourceType !== resourceType) {
        problems.push(`${at}.targets.${key}: ${action.actionId} needs a target of type ${resourceType}, got ${JSON.stringify(targetName)} of type ${targets[targetName]!.resourceType}`);
      }
    }
    for (const key of Object.keys(given)) {
      if (key !== definition.target?.key) problems.push(`${at}.targets.${key}: ${action.actionId} takes ${definition.target ? `only ${definition.target.key}` : 'no targets'}, got ${JSON.stringify(given[key])}`);
    }
    if (definition.duration === 'required' && action.duration === undefined) problems.push(`${at}.duration: is required by ${action.actionId}`);
    if (definition.duration === 'none' && action.duration !== undefined) problems.push(`${at}.duration: ${action.actionId} takes no duration, got ${JSON.stringify(action.duration)}`);
    problems.push(...definition.checkParameters(action.parameters ?? {}, `${at}.parameters`));
  }
  // An action with an undo and no duration holds until the run ends: nothing can start after it.
  for (const [name, action] of Object.entries(template.actions)) {
    for (const after of action.startAfter ?? []) {
      const before = template.actions[after];
      const holds = before && ACTIONS.get(before.actionId)?.duration === 'optional' && before.duration === undefined;
      if (holds) problems.push(`actions.${name}.startAfter: ${JSON.stringify(after)} has no duration, so it holds until the run ends and ${name} could never start`);
    }
  }
  const cycle = findCycle(template.actions);
  if (cycle) problems.push(`actions: startAfter makes a cycle: ${cycle.join(' -> ')}`);
  for (const [index, condition] of (template.stopConditions ?? []).entries()) {
    if (condition.metric.endsWith('Rate') && (condition.threshold < 0 || condition.threshold > 1)) {
      problems.push(`stopConditions[${index}].threshold: ${condition.metric} is a fraction from 0 to 1, got ${condition.threshold}`);
    }
  }
  return problems;
}

function findCycle(actions: Record<string, ActionSpec>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...path.slice(path.indexOf(name)), name];
    state.set(name, 'visiting');
    for (const after of actions[name]?.startAfter ?? []) {
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

/** Validates parsed data as a template; throws TemplateError listing every problem. */
export function validateTemplate(data: unknown, source = 'template'): ExperimentTemplate {
  if (!validateSchema(data)) {
    // An invalid name is reported once, by its propertyNames error, not again by the rule it broke.
    const errors = (validateSchema.errors ?? []).filter((error) => error.propertyName === undefined);
    const problems = [...new Set(errors.map((error) => describeSchemaError(error, data)))];
    throw new TemplateError(source, problems);
  }
  const template = data as unknown as ExperimentTemplate;
  const problems = semanticProblems(template);
  if (problems.length > 0) throw new TemplateError(source, problems);
  return template;
}

/** Parses JSON or YAML text (by the file's extension; YAML, a superset of JSON, otherwise) and validates it. */
export function parseTemplate(text: string, source = 'template'): ExperimentTemplate {
  let data: unknown;
  try {
    data = source.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { prettyErrors: true });
  } catch (error) {
    throw new TemplateError(source, [`cannot be parsed: ${(error as Error).message.split('\n')[0]}`]);
  }
  return validateTemplate(data, source);
}

/** Reads and validates a template file. */
export async function loadTemplate(file: string): Promise<ExperimentTemplate> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new TemplateError(file, [`cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`]);
  }
  return parseTemplate(text, file);
}
