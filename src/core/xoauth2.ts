/**
 * The SASL XOAUTH2 initial response, byte-exact:
 * base64("user=" + mailbox + "\x01auth=Bearer " + token + "\x01\x01")  (docs/m365.md §3.3).
 *
 * Pure and tested against Microsoft's documented test vector. The result is a credential:
 * never log it (the transport hides it; the logger scrubs `AUTH XOAUTH2 <base64>`).
 */
import { MailgateError } from './errors.js';

export function buildXOAuth2(user: string, accessToken: string): string {
  if (/[\x00-\x1f\x7f]/.test(user) || /[\x00-\x1f\x7f\s]/.test(accessToken)) {
    throw new MailgateError({
      code: 'ARGUMENT_INVALID',
      phase: 'auth',
      message: 'The XOAUTH2 user or token contains control characters or spaces',
    });
  }
  return Buffer.from(`user=${user}\x01auth=Bearer ${accessToken}\x01\x01`, 'utf8').toString('base64');
}
