/**
 * AUTH LOGIN / AUTH PLAIN with a password, as Exchange Online answers them now that basic
 * authentication is off: `535 5.7.139 Authentication unsuccessful, basic authentication is
 * disabled.`, unless the state gives the mailbox a `basicAuthPassword` (a tenant where basic
 * auth has not been turned off yet), in which case the password is checked and the SMTP AUTH
 * switches still apply.
 *
 * Why it exists: a password-based client is the most common mistake the product's doctor
 * explains; the decision is pure so it can be read next to the XOAUTH2 one.
 *
 * Imports: ./state.ts, ./smtp-replies.ts, ./xoauth2-auth.ts.
 */
import { timingSafeEqual } from 'node:crypto';
import { REPLIES } from './smtp-replies.js';
import { findMailboxAnywhere, type EmulatorState } from './state.js';
import { smtpAuthDisabledReply, type AuthVerdict } from './xoauth2-auth.js';

function samePassword(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function decidePasswordAuth(state: EmulatorState, username: string, password: string): AuthVerdict {
  const found = findMailboxAnywhere(state, username);
  if (!found || found.mailbox.basicAuthPassword === null) {
    return { ok: false, reply: REPLIES.basicAuthDisabled, reason: found ? `basic authentication is disabled for ${found.mailbox.address}` : `no mailbox ${username}; basic authentication is disabled` };
  }
  const { tenant, mailbox } = found;
  // A shared mailbox has no sign-in of its own (its account is disabled in Entra ID).
  if (mailbox.type === 'shared') return { ok: false, reply: 'generic', reason: `${mailbox.address} is a shared mailbox: it has no sign-in of its own` };
  const disabled = smtpAuthDisabledReply(tenant, mailbox);
  if (disabled) return { ok: false, reply: disabled.reply, reason: disabled.reason };
  if (!samePassword(password, mailbox.basicAuthPassword ?? '')) return { ok: false, reply: 'generic', reason: `wrong password for ${mailbox.address}` };
  return { ok: true, mailbox, tenant, oid: '', appid: '' };
}
