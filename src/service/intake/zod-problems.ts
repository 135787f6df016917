/**
 * zod issues as the API's problems: `{key, message}` naming the field and saying what it must
 * be ("text: must be a string, not a number"), one per issue.
 *
 * Why its own module: every JSON route reports shape problems the same way. zod 4 issues do not
 * carry the input (unless parsed with reportInput, which would copy request values into
 * errors), so "missing" and "wrong type" are told apart here by looking at the body: before,
 * every wrong type read "is required", and a union (an address or a list) read "Invalid input".
 *
 * Imports: zod (types), src/core.
 */
import type { z } from 'zod';
import type { Problem } from '../../core/errors.js';
import { describeType } from '../../core/message.js';

export interface ZodProblemOptions {
  /** What a value at `path` must be when no branch of a union fits it. */
  union?: (path: readonly PropertyKey[]) => string;
  /** A better message for a too-big array at `path` (`count` = its length), or undefined. */
  tooBig?: (path: readonly PropertyKey[], count: number | undefined) => string | undefined;
}

/** `attachments[0].filename` from ['attachments', 0, 'filename']. */
export function pathKey(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
}

/** The value at a path of the request body, and whether it is there at all. */
function valueAt(body: unknown, path: readonly PropertyKey[]): { present: boolean; value: unknown } {
  let v: unknown = body;
  for (const p of path) {
    if (!v || typeof v !== 'object' || !Object.prototype.hasOwnProperty.call(v, p)) return { present: false, value: undefined };
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return { present: true, value: v };
}

const EXPECTED: Record<string, string> = { string: 'a string', array: 'an array', object: 'an object', record: 'an object', number: 'a number', int: 'a whole number', boolean: 'a boolean (true or false)' };

export function zodProblems(error: z.ZodError, body: unknown, options: ZodProblemOptions = {}): Problem[] {
  const out: Problem[] = [];
  const add = (path: readonly PropertyKey[], message: string) => {
    const key = pathKey(path) || 'body';
    out.push({ key, message: `${key}: ${message}` });
  };
  const explain = (issue: z.core.$ZodIssue, path: readonly PropertyKey[]): void => {
    const at = valueAt(body, path);
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const k of issue.keys) add([...path, k], 'unknown field');
        return;
      case 'invalid_type':
        if (!at.present) add(path, 'is required');
        else add(path, `must be ${EXPECTED[issue.expected] ?? issue.expected}, not ${describeType(at.value)}`);
        return;
      case 'invalid_union': {
        // Report the branch whose type the value has (e.g. the array of an "address or list").
        const fitting = issue.errors.filter((branch) => !branch.some((i) => i.code === 'invalid_type' && i.path.length === 0));
        if (fitting.length === 1 && fitting[0].length) for (const i of fitting[0]) explain(i, [...path, ...i.path]);
        else add(path, `${options.union?.(path) ?? 'has the wrong type'}, not ${describeType(at.value)}`);
        return;
      }
      case 'too_big': {
        const better = issue.origin === 'array' ? options.tooBig?.(path, Array.isArray(at.value) ? at.value.length : undefined) : undefined;
        if (better) add(path, better);
        else if (issue.origin === 'string') add(path, `must be at most ${issue.maximum} characters`);
        else if (issue.origin === 'array') add(path, issue.message.startsWith('Too big') ? `must have at most ${issue.maximum} items` : issue.message);
        else add(path, issue.message.startsWith('Too big') ? `must be at most ${issue.maximum}` : issue.message);
        return;
      }
      case 'too_small':
        if (issue.origin === 'string' && issue.minimum === 1) add(path, 'must not be empty');
        else if (issue.origin === 'string') add(path, issue.message.startsWith('Too small') ? `must be at least ${issue.minimum} characters` : issue.message);
        else add(path, issue.message.startsWith('Too small') ? `must be at least ${issue.minimum}` : issue.message);
        return;
      default:
        add(path, issue.message);
    }
  };
  // A value of the wrong type can also fail its checks (zod reports an array's length against
  // a string's minimum): the type is the one problem worth saying.
  const wrongType = new Set(error.issues.filter((i) => i.code === 'invalid_type').map((i) => pathKey(i.path)));
  for (const issue of error.issues) {
    if (issue.code !== 'invalid_type' && wrongType.has(pathKey(issue.path))) continue;
    explain(issue, issue.path);
  }
  return out;
}
