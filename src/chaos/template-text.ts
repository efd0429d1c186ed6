// A template file's text: read with a size cap, parsed as strict JSON or YAML. Problems name the
// line, the column and what is wrong, never the text there: the file may be /proc/self/environ.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { parseStrictJson, StrictJsonError } from './strict-json.ts';

/** The largest template file read: the built-ins are ~2 kB; a 60 MB one took 2.5 GB to parse and validate. */
export const MAX_TEMPLATE_BYTES = 1024 * 1024;

/** A template file that cannot be read or parsed: each problem, without the file's content. */
export class TemplateTextError extends Error {
  readonly code = 'TEMPLATE_TEXT';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('; '));
    this.name = 'TemplateTextError';
    this.problems = problems;
  }
}

const preview = (text: string): string => (text.length > 64 ? `${text.slice(0, 61)}...` : text);

/** Reads YAML codes as words: the messages of the yaml package quote the text (tags, escapes, lines). */
const YAML_PROBLEMS: Record<string, string> = {
  DUPLICATE_KEY: 'duplicate key',
  MULTIPLE_DOCS: 'more than one document (---)',
  RESOURCE_EXHAUSTION: 'nested too deeply or too many aliases',
  BAD_INDENT: 'bad indentation',
  TAB_AS_INDENT: 'a tab used as indentation',
  MISSING_CHAR: 'a missing character (a quote, bracket, comma or colon)',
  UNEXPECTED_TOKEN: 'something unexpected here',
  BAD_DQ_ESCAPE: 'a bad escape in a double-quoted string',
  BLOCK_AS_IMPLICIT_KEY: 'a block used as a key',
};
const MAX_REPORTED_SYNTAX_ERRORS = 5;

function parseYamlText(text: string): unknown {
  // The yaml package refuses duplicate keys (uniqueKeys) and caps aliases when turning the document into data.
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (document.errors.length > 0) {
    const problems = document.errors.slice(0, MAX_REPORTED_SYNTAX_ERRORS).map((error) => {
      const where = error.linePos ? `line ${error.linePos[0].line}, column ${error.linePos[0].col}` : `offset ${error.pos[0]}`;
      let problem = YAML_PROBLEMS[error.code] ?? error.code.toLowerCase().replace(/_/g, ' ');
      // The key's own name: the one piece of the text worth quoting back.
      if (error.code === 'DUPLICATE_KEY') problem += ` ${JSON.stringify(preview(keyAt(text, error.pos[0])))}`;
      return `${where}: ${problem}`;
    });
    throw new TemplateTextError(problems.map((problem) => `cannot be parsed: ${problem}`));
  }
  try {
    return document.toJS({ maxAliasCount: 100 });
  } catch {
    throw new TemplateTextError(['cannot be parsed: too many aliases, or nested too deeply']);
  }
}

/** The key that starts at `offset` (the yaml package points at its first character only). */
function keyAt(text: string, offset: number): string {
  const line = text.slice(offset, offset + 200).split('\n')[0]!;
  const key = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^:#]*?)\s*:/.exec(line)?.[1] ?? line;
  return /^["']/.test(key) ? key.slice(1, -1) : key;
}

/** Parses JSON (by the .json extension, refusing duplicate keys) or YAML text into data. */
export function parseTemplateText(text: string, source: string): unknown {
  try {
    return source.endsWith('.json') ? parseStrictJson(text) : parseYamlText(text);
  } catch (error) {
    if (error instanceof TemplateTextError) throw error;
    if (error instanceof StrictJsonError) throw new TemplateTextError([`cannot be parsed: ${error.message}`]);
    // A RangeError from a parser that recursed: say what, not the message (it may quote the text).
    throw new TemplateTextError(['cannot be parsed: nested too deeply']);
  }
}

/**
 * Reads at most MAX_TEMPLATE_BYTES of a regular file; a FIFO, a device or a /proc file that streams on is
 * refused, and so is a file that cannot be opened (with its error code).
 */
export async function readTemplateText(file: string): Promise<string> {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (the stat that refuses it comes after the open).
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK).catch((error: NodeJS.ErrnoException) => {
    throw new TemplateTextError([`cannot be read: ${error.code ?? error.message}`]);
  });
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new TemplateTextError([`cannot be read: not a regular file (${stats.isDirectory() ? 'a folder' : 'a device, pipe or socket'})`]);
    const tooLarge = new TemplateTextError([`cannot be read: larger than ${MAX_TEMPLATE_BYTES} bytes (1 MB); templates are a few kB`]);
    if (stats.size > MAX_TEMPLATE_BYTES) throw tooLarge;
    // /proc files stat as size 0 whatever they hold: the cap is on what is read, not on the size.
    const buffer = Buffer.alloc(MAX_TEMPLATE_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_TEMPLATE_BYTES) throw tooLarge;
    return buffer.toString('utf8', 0, length);
  } finally {
    await handle.close();
  }
}
