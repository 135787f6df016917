/**
 * Any thrown value as a MailgateError: ours as they are; anything else INTERNAL, with the
 * cause's own words (credential-shaped strings removed, one line) so a report or an error line
 * has something to act on and to send to the maintainers.
 *
 * Why one function: the CLI commands and the doctor's checks all end their catch blocks this
 * way; the wording and the redaction must not drift apart.
 *
 * Imports: nothing outside src/core.
 */
import { isMailgateError, MailgateError, type Phase } from './errors.js';
import { redactOpaque } from './diagnosis/render.js';

export function asMailgateError(e: unknown, what: string, phase: Phase): MailgateError {
  if (isMailgateError(e)) return e;
  const detail = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return new MailgateError({ code: 'INTERNAL', phase, message: `${what} failed unexpectedly (${redactOpaque(detail.replace(/[\r\n]+/g, ' ')).slice(0, 300)})`, cause: e });
}
