// Reading a saved journal back for `chaos-lab report`: a file that is missing, is not JSON or is
// not a journal is refused with a message naming the file and the problem, never its contents
// (the path may be any file, /proc/self/environ included).
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Ajv, type ErrorObject } from 'ajv';
import type { Journal } from '../chaos/journal.ts';
import { parseStrictJson, StrictJsonError } from '../chaos/strict-json.ts';

/** A journal file that cannot be shown: which file, and why. */
export class JournalFileError extends Error {
  readonly code: 'JOURNAL_UNREADABLE' | 'JOURNAL_NOT_JSON' | 'JOURNAL_INVALID';
  readonly file: string;
  constructor(code: JournalFileError['code'], file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'JournalFileError';
    this.code = code;
    this.file = file;
  }
}

const schema = (name: string): object => JSON.parse(readFileSync(new URL(`../../schema/${name}`, import.meta.url), 'utf8')) as object;
// The journal refers to the patterns schema for each run's resolved patterns. strict: false, as the tests' validator: the published schema carries descriptive keywords Ajv's strict mode refuses.
const validate = new Ajv({ allErrors: true, strict: false }).addSchema(schema('patterns.schema.json')).compile<Journal>(schema('journal.schema.json'));

/** The schema's complaints, the first few, each with where it is (never the value found there). */
function describe(errors: readonly ErrorObject[]): string {
  const shown = errors.slice(0, 3).map((error) => `${error.instancePath || '(top level)'} ${error.message ?? 'is invalid'}`);
  return `${shown.join('; ')}${errors.length > shown.length ? ` (and ${errors.length - shown.length} more)` : ''}`;
}

/** Checks that `value` is a journal (schema/journal.schema.json); `file` names it in the error. */
export function asJournal(value: unknown, file: string): Journal {
  if (!validate(value)) throw new JournalFileError('JOURNAL_INVALID', file, `not a chaos-lab journal (schema/journal.schema.json): ${describe(validate.errors ?? [])}`);
  return value;
}

/** Reads, parses and validates one saved journal. */
export async function readJournalFile(file: string): Promise<Journal> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new JournalFileError('JOURNAL_UNREADABLE', file, `cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let value: unknown;
  try {
    value = parseStrictJson(text);
  } catch (error) {
    if (!(error instanceof StrictJsonError)) throw error;
    throw new JournalFileError('JOURNAL_NOT_JSON', file, `not JSON: ${error.message}`);
  }
  return asJournal(value, file);
}
