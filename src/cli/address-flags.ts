/**
 * `--from` / `--sign-in-as` of `mailgate doctor` and `mailgate setup-script`: mailbox addresses,
 * checked once at the boundary (they go into reports and into a PowerShell script).
 *
 * Why it exists: both commands take the same two flags for one sender (issue 16) and must refuse
 * the same things the same way (exit 2 naming the flag). Quotes, semicolons, angle brackets and
 * backticks are refused although some are legal in an address: the safe choice for text that is
 * pasted into PowerShell.
 *
 * Imports: src/core/errors.
 */
import { MailgateError, type Problem } from '../core/errors.js';

const ADDRESS = /^[^@\s<>"'`;]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$/;

/** Throws ARGUMENT_INVALID naming each flag that is not a mailbox address. */
export function checkSenderAddressFlags(flags: { from?: string; signInAs?: string }): void {
  const problems: Problem[] = ([['from', '--from', flags.from], ['signInAs', '--sign-in-as', flags.signInAs]] as const)
    .filter(([, , v]) => v !== undefined && !(v.length <= 254 && ADDRESS.test(v)))
    .map(([key, flag]) => ({ key, message: `${flag}: must be a mailbox address such as support@contoso.com` }));
  if (problems.length) throw new MailgateError({ code: 'ARGUMENT_INVALID', phase: 'arguments', message: `Invalid arguments: ${problems.map((p) => p.message).join('; ')}`, problems });
}
