/**
 * Server-side check of a recipient address typed into the admin page (the Test page and the
 * Diagnostics page), with a message fit to show next to the field.
 *
 * Why: the browser's own checks are switched off (`novalidate`) so that the server's messages
 * are the ones shown, consistently, with or without JavaScript; this is that server check.
 *
 * Imports: zod.
 */
import { z } from 'zod';

const EMAIL = z.email();

/** Undefined when the address is usable, else what is wrong with it. */
export function recipientProblem(value: string, required: boolean): string | undefined {
  if (value === '') return required ? 'Enter the address to send the test email to.' : undefined;
  if (value.length > 320) return 'The address is too long (at most 320 characters).';
  if (/[\r\n]/.test(value)) return 'The address must not contain line breaks.';
  if (!EMAIL.safeParse(value).success) return 'Enter an email address like name@example.com.';
  return undefined;
}
