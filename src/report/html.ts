// Escaping for the two places a journal's text reaches the page: HTML text and attributes, and
// JSON inside a <script> element. Journals carry text from outside (error messages, response
// bodies, template descriptions), so none of it may become markup.

/** Text or an attribute value, with the five characters HTML gives meaning to escaped. */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * JSON to embed in `<script type="application/json">`. Every `<` becomes `\u003c`, so no string
 * in it can close the script element (`</script>`) or open a comment (`<!--`) that changes how
 * the HTML parser ends it (U+2028 and U+2029 too, for a reader that evaluates the block as script).
 * JSON.parse reads the text back to the same value.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Joins the parts that are present, one a line: markup built from pieces already escaped. */
export function lines(parts: ReadonlyArray<string | false | null | undefined>): string {
  return parts.filter((p): p is string => typeof p === 'string' && p.length > 0).join('\n');
}
