// Strict JSON for templates: JSON.parse keeps the last of two equal keys (one action silently
// dropped) and its error messages quote the text around the error (a file's secrets, when the
// file is /proc/self/environ). This scanner refuses duplicate keys and says where a problem is,
// never what the text there is, apart from a duplicate key's own name.

/** A JSON text that cannot be a template: where, and what is wrong (never the text itself). */
export class StrictJsonError extends Error {
  readonly line: number;
  readonly column: number;
  constructor(line: number, column: number, problem: string) {
    super(`line ${line}, column ${column}: ${problem}`);
    this.name = 'StrictJsonError';
    this.line = line;
    this.column = column;
  }
}

const KEY_PREVIEW = 64;

interface Frame {
  kind: 'object' | 'array';
  keys: Map<string, number> | undefined;
  path: string;
  /** What the scanner expects next in this container. */
  expect: 'first' | 'key' | 'colon' | 'value' | 'comma';
  key: string;
}

/**
 * Parses JSON text, refusing duplicate keys, with errors that give a line and column. Iterative (an
 * explicit stack), so a deeply nested text costs memory in proportion to its size and never the call stack.
 */
export function parseStrictJson(text: string): unknown {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i += 1) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  const position = (offset: number): { line: number; column: number } => {
    let low = 0;
    let high = lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (lineStarts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, column: offset - lineStarts[low]! + 1 };
  };
  const fail = (offset: number, problem: string): never => {
    const { line, column } = position(offset);
    throw new StrictJsonError(line, column, problem);
  };

  const stack: Frame[] = [];
  let i = 0;
  let done = false;
  const skipSpace = (): void => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i += 1;
  };
  const readString = (): string => {
    const start = i;
    i += 1;
    while (i < text.length && text[i] !== '"') {
      const code = text.charCodeAt(i);
      if (code < 0x20) fail(i, 'a control character inside a string');
      if (text[i] === '\\') {
        const escape = text[i + 1];
        if (escape === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail(i, 'a bad \\u escape');
          i += 6;
          continue;
        }
        if (escape === undefined || !'"\\/bfnrt'.includes(escape)) fail(i, 'a bad escape');
        i += 2;
        continue;
      }
      i += 1;
    }
    if (i >= text.length) fail(start, 'a string that never ends');
    i += 1;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const pathOf = (frame: Frame | undefined, key: string): string => {
    if (!frame) return '(template)';
    return frame.kind === 'array' ? `${frame.path}[]` : frame.path === '' ? key : `${frame.path}.${key}`;
  };
  /** A value starts here: a container is pushed, a scalar is consumed. */
  const readValue = (): void => {
    const parent = stack.at(-1);
    const here = parent?.kind === 'object' ? pathOf(parent, parent.key) : parent ? `${parent.path}[]` : '';
    const c = text[i];
    if (c === '{' || c === '[') {
      i += 1;
      stack.push({ kind: c === '{' ? 'object' : 'array', keys: c === '{' ? new Map() : undefined, path: here, expect: 'first', key: '' });
      return;
    }
    if (c === '"') readString();
    else {
      const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 400));
      if (!literal) fail(i, c === undefined ? 'the text ends where a value should be' : 'a value should start here');
      i += literal![0].length;
    }
    valueEnded();
  };
  const valueEnded = (): void => {
    const parent = stack.at(-1);
    if (parent) parent.expect = 'comma';
    else done = true;
  };

  skipSpace();
  if (i >= text.length) fail(0, 'the text is empty');
  readValue();
  while (!done) {
    skipSpace();
    const frame = stack.at(-1)!;
    const c = text[i];
    if (c === undefined) fail(i, `the text ends inside an ${frame.kind}`);
    const closer = frame.kind === 'object' ? '}' : ']';
    if ((frame.expect === 'first' || frame.expect === 'comma') && c === closer) {
      i += 1;
      stack.pop();
      valueEnded();
      continue;
    }
    if (frame.expect === 'comma') {
      if (c !== ',') fail(i, `expected , or ${closer}`);
      i += 1;
      frame.expect = frame.kind === 'object' ? 'key' : 'value';
      continue;
    }
    if (frame.kind === 'object' && (frame.expect === 'first' || frame.expect === 'key')) {
      if (c !== '"') fail(i, 'expected a key in double quotes');
      const at = i;
      const key = readString();
      const first = frame.keys!.get(key);
      if (first !== undefined) {
        const name = key.length > KEY_PREVIEW ? `${key.slice(0, KEY_PREVIEW - 3)}...` : key;
        const where = frame.path === '' ? 'at the top level' : `in ${frame.path}`;
        const { line, column } = position(first);
        fail(at, `duplicate key ${JSON.stringify(name)} ${where} (first at line ${line}, column ${column}); JSON would keep only the last`);
      }
      frame.keys!.set(key, at);
      frame.key = key;
      frame.expect = 'colon';
      continue;
    }
    if (frame.expect === 'colon') {
      if (c !== ':') fail(i, 'expected : after a key');
      i += 1;
      frame.expect = 'value';
      continue;
    }
    readValue();
  }
  skipSpace();
  if (i < text.length) fail(i, 'more text after the end of the JSON value');
  // The scanner proved the text valid JSON; JSON.parse builds the value (it does not recurse on the call stack).
  return JSON.parse(text);
}
