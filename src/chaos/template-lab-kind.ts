// What a template of each lab kind may say: its lab's fields, its actions and rollbacks, its
// metrics (the shop lab's and the circuit-breaker lab's differ).
import { ACTIONS, ROLLBACKS } from './actions.ts';
import { breakerLabProblems, type BreakerLabSettings } from './breaker-lab-plan.ts';
import { LAB_KINDS, type LabKind } from './lab-kind.ts';
import { isRecord, show } from './template-values.ts';

/** The template's lab kind (shop when it says none, or says something the schema refuses). */
export function labKindOf(data: Record<string, unknown>): LabKind {
  const kind = isRecord(data['lab']) ? data['lab']['kind'] : undefined;
  return LAB_KINDS.includes(kind as LabKind) ? (kind as LabKind) : 'shop';
}

// The lab fields that belong to one kind of lab only.
const SHOP_LAB_FIELDS = ['instances', 'patterns', 'databaseProxy', 'loadBalancer', 'healthCheckGracePeriod', 'queue', 'databaseProxyTargets', 'createSchema'];
const BREAKER_LAB_FIELDS = ['breakerLab'];

/** What a template of each lab kind may say: its lab's fields, its actions and rollbacks, its metrics. */
export function labKindProblems(data: Record<string, unknown>, kind: LabKind): string[] {
  const problems: string[] = [];
  const modes = isRecord(data['modes']) ? data['modes'] : {};
  const labs: Array<[string, Record<string, unknown>]> = [];
  if (isRecord(data['lab'])) labs.push(['lab', data['lab']]);
  for (const [name, mode] of Object.entries(modes)) if (isRecord(mode) && isRecord(mode['lab'])) labs.push([`modes.${name}.lab`, mode['lab']]);
  const foreign = kind === 'shop' ? BREAKER_LAB_FIELDS : SHOP_LAB_FIELDS;
  for (const [at, lab] of labs) {
    if (at !== 'lab' && lab['kind'] !== undefined) problems.push(`${at}.kind: the lab kind is the template's (lab.kind), a mode cannot change it, got ${show(lab['kind'])}`);
    for (const field of foreign.filter((f) => f in lab)) problems.push(`${at}.${field}: applies to ${kind === 'shop' ? 'lab.kind breaker-lab' : 'the shop lab'}, and this template's lab.kind is ${kind}`);
  }
  const actions = isRecord(data['actions']) ? data['actions'] : {};
  for (const [name, action] of Object.entries(actions)) {
    const id = isRecord(action) ? action['actionId'] : undefined;
    const definition = typeof id === 'string' ? ACTIONS.get(id) : undefined;
    if (definition && definition.labKind !== 'any' && definition.labKind !== kind) problems.push(`actions.${name}.actionId: ${definition.id} acts on the ${definition.labKind} lab, and this template's lab.kind is ${kind}`);
  }
  const rollbacks = Array.isArray(data['rollbacks']) ? (data['rollbacks'] as unknown[]) : [];
  for (const [index, rollback] of rollbacks.entries()) {
    const id = isRecord(rollback) ? rollback['actionId'] : undefined;
    const definition = typeof id === 'string' ? ROLLBACKS.get(id) : undefined;
    if (definition && definition.labKind !== kind) problems.push(`rollbacks[${index}].actionId: ${String(id)} acts on the ${definition.labKind} lab, and this template's lab.kind is ${kind}`);
  }
  if (kind !== 'breaker-lab') return problems;
  const base = isRecord(data['lab']) && isRecord(data['lab']['breakerLab']) ? (data['lab']['breakerLab'] as BreakerLabSettings) : undefined;
  for (const [name, mode] of Object.entries(modes)) {
    const own = isRecord(mode) && isRecord(mode['lab']) && isRecord(mode['lab']['breakerLab']) ? (mode['lab']['breakerLab'] as BreakerLabSettings) : undefined;
    problems.push(...breakerLabProblems(base, own, `modes.${name}.lab.breakerLab`));
  }
  if (data['targets'] !== undefined) problems.push(`targets: the breaker lab has no targets to select (its actions act on its backend), got ${show(data['targets'])}`);
  const traffic = isRecord(data['traffic']) ? data['traffic'] : {};
  if (typeof traffic['writesPerSecond'] === 'number' && traffic['writesPerSecond'] > 0) problems.push(`traffic.writesPerSecond: the breaker lab's function takes reads only, got ${show(traffic['writesPerSecond'])}`);
  const conditions = Array.isArray(data['stopConditions']) ? (data['stopConditions'] as unknown[]) : [];
  for (const [index, condition] of conditions.entries()) {
    const metric = isRecord(condition) ? condition['metric'] : undefined;
    if (typeof metric === 'string' && metric.startsWith('lb.')) problems.push(`stopConditions[${index}].metric: the breaker lab has no load balancer (only traffic.failureRate), got ${show(metric)}`);
  }
  return problems;
}
