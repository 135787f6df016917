/**
 * Reading submitted forms: the parsed body type and "the last text value of a field".
 *
 * Why the last value: a checkbox that must say "false" when unticked is preceded by a hidden
 * field of the same name; the browser sends both when it is ticked, and the later one wins.
 * Anything that is not text (a file) is ignored: no admin form uploads files.
 *
 * Imports: nothing.
 */

/** A parsed form body (`c.req.parseBody({ all: true })`). */
export type FormBody = Record<string, string | File | (string | File)[]>;

/** The last text value of a form field, or undefined. */
export function lastString(body: FormBody, name: string): string | undefined {
  const v = body[name];
  const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
  for (let i = list.length - 1; i >= 0; i--) if (typeof list[i] === 'string') return list[i] as string;
  return undefined;
}
