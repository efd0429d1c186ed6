// --patterns: a preset name, JSON text, or a .json/.yaml file, resolved once here (the edge).
import { parseStrictJson, StrictJsonError } from '../chaos/strict-json.ts';
import { parseTemplateText, readTemplateText, TemplateTextError } from '../chaos/template-text.ts';
import { applyRecoveryTimeoutEnv, PatternsError, PRESET_NAMES, resolvePatterns, type Patterns } from '../shop/patterns.ts';
import { UsageError } from './shared.ts';

const FORMS = `a preset (${PRESET_NAMES.join(', ')}), JSON text like '{"preset":"resilient","retry":{"delaysMs":[100]}}', or a .json/.yaml file`;

/** Resolves a --patterns value; every problem is a usage error naming the field and the value. */
export async function parsePatternsOption(raw: string | undefined): Promise<Patterns | undefined> {
  if (raw === undefined) return undefined;
  let input: unknown;
  let source: string;
  if ((PRESET_NAMES as readonly string[]).includes(raw)) {
    input = raw;
    source = '--patterns';
  } else if (raw.trimStart().startsWith('{')) {
    source = '--patterns';
    try {
      input = parseStrictJson(raw);
    } catch (error) {
      if (error instanceof StrictJsonError) throw new UsageError(`--patterns: not valid JSON: ${error.message}`);
      throw new UsageError('--patterns: not valid JSON: nested too deeply');
    }
  } else if (/\.(json|ya?ml)$/i.test(raw)) {
    source = `--patterns ${raw}`;
    try {
      input = parseTemplateText(await readTemplateText(raw), raw);
    } catch (error) {
      if (error instanceof TemplateTextError) throw new UsageError(`${source}: ${error.problems.join('; ')}`);
      throw error;
    }
  } else {
    throw new UsageError(`--patterns must be ${FORMS}, got ${JSON.stringify(raw.slice(0, 60))}`);
  }
  try {
    return resolvePatterns(input, 'patterns');
  } catch (error) {
    if (error instanceof PatternsError) throw new UsageError(`${source}: ${error.problems.join('; ')}`);
    throw error;
  }
}

/**
 * The patterns a command runs with: --patterns (or the resilient preset), with CB_RECOVERY_TIMEOUT
 * applied as Article 4's app reads it. Here, at the edge, so that what is printed and recorded
 * (lab.json) is what the instances run; an instance never sees the variable.
 */
export function patternsWithEnv(patterns: Patterns | undefined, env: Record<string, string | undefined>): Patterns | undefined {
  const raw = env['CB_RECOVERY_TIMEOUT'];
  if (raw === undefined || raw.trim() === '') return patterns;
  try {
    return applyRecoveryTimeoutEnv(patterns ?? resolvePatterns('resilient'), env);
  } catch (error) {
    if (error instanceof PatternsError) throw new UsageError(error.problems.join('; '));
    throw error;
  }
}

/** --strategy is gone: old muscle memory gets a message that says what replaced it. */
export function refuseStrategyOption(raw: string | undefined, command: 'shop' | 'up'): void {
  if (raw === undefined) return;
  const topology = command === 'up' ? ' (and --no-db-proxy for the naive path straight to the cluster endpoints)' : '';
  throw new UsageError(`--strategy is gone: use --patterns naive|resilient${topology}, got --strategy ${JSON.stringify(raw.slice(0, 40))}`);
}
