// The first event a page gets: what it watches and whether it may act.
import { FAULT_TYPES } from '../lab/fault-proxy/faults/index.ts';
import type { Lab } from '../lab/lab.ts';
import { patternsName } from '../shop/patterns.ts';
import type { HelloEvent } from './protocol.ts';

/** The hello of `up`: the page may act, and its fault form offers this lab's dependencies and every fault type. */
export function upHello(lab: Pick<Lab, 'patterns' | 'dependencies' | 'databaseProxyInPath'>, startedAt: Date): HelloEvent {
  return {
    kind: 'up',
    canAct: true,
    title: `chaos-lab up (patterns ${patternsName(lab.patterns)}${lab.databaseProxyInPath ? '' : ', no database proxy'})`,
    startedAt: startedAt.toISOString(),
    dependencies: lab.dependencies.map((d) => d.name),
    // The fault proxy runs this same registry, so its GET /fault-types would say the same.
    faultTypes: [...FAULT_TYPES.keys()],
  };
}

/** The hello of `run`: read-only, titled with the experiment and its modes. */
export function runHello(experiment: string, modes: readonly string[], startedAt: Date): HelloEvent {
  return {
    kind: 'run',
    canAct: false,
    title: `${experiment} · ${modes.length === 1 ? 'mode' : 'modes'} ${modes.join(', ')}`,
    startedAt: startedAt.toISOString(),
    dependencies: [],
    faultTypes: [],
  };
}

/** The hello of `suite`: read-only, titled with the experiments it runs one after another. */
export function suiteHello(experiments: readonly string[], startedAt: Date): HelloEvent {
  return { ...runHello('suite', [], startedAt), title: `suite: ${experiments.join(', ')}, each BEFORE and AFTER` };
}
