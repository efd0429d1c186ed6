// Describing template values in messages: never the whole value (it may be deep, large, or
// the file's content), only a bounded preview or its type.

const PREVIEW_LENGTH = 60;

/** True for a plain object (a YAML mapping), not an array or null. */
export const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A bad value for a message: a primitive by a bounded preview, a container by its type. Never a whole
 * value: it may be deep (JSON.stringify recurses) or large, and it is the file's content.
 */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return value.length === 0 ? '[]' : `an array of ${value.length}`;
  if (value !== null && typeof value === 'object') return Object.keys(value).length === 0 ? '{}' : 'an object';
  const text = typeof value === 'string' ? JSON.stringify(value.slice(0, PREVIEW_LENGTH)) : String(value);
  return text.length > PREVIEW_LENGTH ? `${text.slice(0, PREVIEW_LENGTH - 3)}...` : text;
}

/** The kind of a value, without any of it. */
export function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'a mapping' : `a ${typeof value}`;
}
