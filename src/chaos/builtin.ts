// The built-in experiments: templates shipped in experiments/, in the suite's order.
import { basename, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTemplate, type ExperimentTemplate } from './template.ts';

/** Built-in experiments, in the order the suite runs them (the articles' order: 1, 3, 4's outage and its initialisation lesson, 7; then the circuit-breaker lab). */
export const BUILTIN_EXPERIMENTS = ['instance-stop', 'db-failover', 'db-outage', 'init-race', 'dependency-outage', 'breaker-lab'] as const;

/** Where a built-in template lives. */
export function builtinPath(name: string): string {
  return fileURLToPath(new URL(`../../experiments/${name}.yaml`, import.meta.url));
}

export interface ResolvedExperiment {
  /** The experiment's name: a built-in's, or a file's base name. */
  name: string;
  source: string;
  template: ExperimentTemplate;
}

/** A built-in by name, or a template file by path (anything with a / or a .yaml/.yml/.json extension). */
export async function resolveExperiment(nameOrFile: string): Promise<ResolvedExperiment> {
  if ((BUILTIN_EXPERIMENTS as readonly string[]).includes(nameOrFile)) {
    const source = builtinPath(nameOrFile);
    return { name: nameOrFile, source, template: await loadTemplate(source) };
  }
  if (nameOrFile.includes('/') || /\.(ya?ml|json)$/.test(nameOrFile)) {
    return { name: basename(nameOrFile, extname(nameOrFile)), source: nameOrFile, template: await loadTemplate(nameOrFile) };
  }
  throw new UnknownExperimentError(`no experiment named ${JSON.stringify(nameOrFile)}: built-ins are ${BUILTIN_EXPERIMENTS.join(', ')}, or give a template file (.yaml, .yml or .json)`);
}

export class UnknownExperimentError extends Error {}
