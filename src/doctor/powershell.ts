/**
 * Strict PowerShell literals for values that go into generated scripts.
 *
 * Why it exists: `mailgate setup-script` writes the administrator's IDs and mailbox into a
 * script they will run with Exchange administrator rights. The values come from validated
 * settings, but a generated script must be safe by construction: every value is a single-quoted
 * literal (no `$` expansion, no subexpressions, no backtick escapes inside), every quote
 * character PowerShell treats as a single quote — including the typographic ones U+2018..U+201B,
 * which PowerShell also accepts as delimiters — is doubled, and control or line-separator
 * characters are refused outright (they could end a comment or a statement).
 *
 * Imports: src/core/errors.
 */
import { MailgateError } from '../core/errors.js';

/** Characters PowerShell accepts as a single-quote delimiter. */
const SINGLE_QUOTES = /['\u2018\u2019\u201A\u201B]/g;
/** Control characters, and the Unicode line and paragraph separators. */
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Throws unless the value can be written into a script line (or a `#` comment) safely. */
export function assertScriptSafe(name: string, value: string): void {
  if (FORBIDDEN.test(value)) {
    throw new MailgateError({
      code: 'ARGUMENT_INVALID',
      phase: 'arguments',
      message: `${name} contains a control character or line break and cannot be written into a PowerShell script`,
      problems: [{ key: name, message: `${name}: control characters and line breaks are not allowed` }],
    });
  }
}

/** A single-quoted PowerShell string literal: `O'Brien` → `'O''Brien'`. */
export function psQuote(value: string, name = 'value'): string {
  assertScriptSafe(name, value);
  return `'${value.replace(SINGLE_QUOTES, (q) => q + q)}'`;
}
