/**
 * Exchange Online's XOAUTH2 decision as a pure function: given the tenant state, the verified
 * bearer token (or why it failed verification) and the SASL `user=`, accept, or give the exact
 * reply plus the real reason (Exchange itself only ever says `535 5.7.3 Authentication
 * unsuccessful`). Also parses the SASL XOAUTH2 initial response.
 *
 * Rules (docs/m365.md §2-§4, §8): token signature/expiry valid; `aud` is Exchange; the `user=`
 * mailbox exists in the token's tenant; SMTP AUTH not disabled (the mailbox's setting, when
 * not null, wins over the tenant's: 5.7.139); `roles` contains SMTP.SendAsApp; the app's
 * service principal is registered in Exchange with objectId == the token's `oid` (the
 * Enterprise Application's object id, not the App Registration's); the mailbox grants that
 * `oid` FullAccess (a shared mailbox as `user=` needs that grant too: it has no sign-in of its
 * own, and the refusal is the same `535 5.7.3`). The order of the checks after the token's own validity is the emulator's
 * choice (Microsoft does not document it).
 *
 * Every OAuth refusal gets the one `535 5.7.3` text on purpose, whatever the reason (no service
 * principal, the App Registration's object id, no FullAccess, a mailbox not in the tenant, no
 * role): real Exchange makes no distinction in its reply (docs/m365.md §3.4, §4), so the product must
 * not be able to learn one here either. The reason goes only to the activity log; the doctor
 * reads Exchange-side facts through the admin API's `exchange` view (src/doctor/exchange-facts.ts).
 *
 * Imports: ./access-token.ts, ./state.ts, ./smtp-replies.ts.
 */
import { EXCHANGE_AUDIENCES, type VerifyTokenResult } from './access-token.js';
import { REPLIES, type Reply } from './smtp-replies.js';
import { findApp, findMailbox, type EmulatorState, type MailboxState, type TenantState } from './state.js';

export interface Xoauth2Credentials {
  user: string;
  token: string;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * Parses `base64("user=" + mailbox + "\x01auth=Bearer " + token + "\x01\x01")`; `undefined`
 * for anything else (bad base64, missing fields, control characters in the user).
 */
export function parseXoauth2Response(base64: string): Xoauth2Credentials | undefined {
  const input = base64.trim();
  if (!input || input.length % 4 !== 0 || !BASE64.test(input)) return undefined;
  const decoded = Buffer.from(input, 'base64').toString('utf8');
  let user: string | undefined;
  let token: string | undefined;
  for (const field of decoded.split('\x01')) {
    const eq = field.indexOf('=');
    if (eq === -1) continue;
    const key = field.slice(0, eq).toLowerCase();
    const value = field.slice(eq + 1);
    if (key === 'user') user = value.trim();
    else if (key === 'auth') {
      const match = /^bearer\s+(\S+)\s*$/i.exec(value);
      if (match) token = match[1];
    }
  }
  if (!user || !token || CONTROL.test(user)) return undefined;
  return { user, token };
}

export type AuthVerdict =
  | { ok: true; mailbox: MailboxState; tenant: TenantState; oid: string; appid: string }
  /** `generic` = the `535 5.7.3 Authentication unsuccessful [...]` reply (timestamped by the caller). */
  | { ok: false; reply: Reply | 'generic'; reason: string };

const refuse = (reason: string): AuthVerdict => ({ ok: false, reply: 'generic', reason });

/** SMTP AUTH enablement: the mailbox's explicit setting wins; `null` follows the tenant. */
export function smtpAuthDisabledReply(tenant: TenantState, mailbox: MailboxState): { reply: Reply; reason: string } | undefined {
  if (mailbox.smtpAuthDisabled === true) return { reply: REPLIES.mailboxSmtpAuthDisabled, reason: `SmtpClientAuthenticationDisabled is true on mailbox ${mailbox.address}` };
  if (mailbox.smtpAuthDisabled === null && tenant.smtpAuthDisabled) return { reply: REPLIES.tenantSmtpAuthDisabled, reason: `SmtpClientAuthenticationDisabled is true for tenant ${tenant.id} and mailbox ${mailbox.address} has no override` };
  return undefined;
}

export function decideXoauth2(state: EmulatorState, token: VerifyTokenResult, user: string): AuthVerdict {
  if (!token.ok) return refuse(token.reason);
  const claims = token.claims;
  if (!EXCHANGE_AUDIENCES.includes(claims.aud)) {
    return refuse(`the token's audience is ${claims.aud}, not Exchange Online (request the scope https://outlook.office365.com/.default)`);
  }
  const tenant = state.tenants.find((t) => t.id.toLowerCase() === claims.tid.toLowerCase());
  if (!tenant) return refuse(`the token's tenant ${claims.tid} is not in the emulator state`);
  const mailbox = findMailbox(tenant, user);
  if (!mailbox) return refuse(`mailbox ${user} (user=) does not exist in tenant ${tenant.id}`);
  const disabled = smtpAuthDisabledReply(tenant, mailbox);
  if (disabled) return { ok: false, reply: disabled.reply, reason: disabled.reason };
  // Set-up B: an RBAC assignment of "Application SMTP.SendAsApp" whose scope covers the mailbox
  // replaces both the Entra consent and the mailbox permission (docs/m365.md §8.2).
  const rbac = tenant.rbacAssignments.some((a) => a.role === 'Application SMTP.SendAsApp' &&
    (a.app.toLowerCase() === claims.oid.toLowerCase() || a.app.toLowerCase() === claims.appid.toLowerCase()) &&
    (a.mailboxes === null || a.mailboxes.some((m) => m.toLowerCase() === mailbox.address.toLowerCase())));
  if (!claims.roles.includes('SMTP.SendAsApp') && !rbac) {
    return refuse(claims.roles.length
      ? `the token's roles (${claims.roles.join(', ')}) do not include SMTP.SendAsApp (add the Office 365 Exchange Online application permission and grant admin consent)`
      : 'the token has no roles claim: SMTP.SendAsApp was not granted admin consent, and no RBAC for Applications assignment covers the mailbox');
  }
  const registered = tenant.exchangeServicePrincipals.filter((sp) => sp.appId.toLowerCase() === claims.appid.toLowerCase());
  if (!registered.length) return refuse(`app ${claims.appid} has no service principal in Exchange (New-ServicePrincipal was not run)`);
  if (!registered.some((sp) => sp.objectId.toLowerCase() === claims.oid.toLowerCase())) {
    const app = findApp(tenant, claims.appid);
    const wrong = registered.map((sp) => sp.objectId).join(', ');
    const hint = app && registered.some((sp) => sp.objectId.toLowerCase() === app.applicationObjectId.toLowerCase())
      ? ' (that is the App Registration object id; New-ServicePrincipal needs the Enterprise Application object id)'
      : '';
    return refuse(`the Exchange service principal for app ${claims.appid} was registered with object id ${wrong}${hint}, but the token's oid is ${claims.oid}`);
  }
  // Unconfirmed whether Exchange still checks mailbox permissions when the token carries the role
  // and an RBAC assignment exists ("an unnecessary check"); the safe choice: either one suffices.
  if (!rbac && !mailbox.fullAccess.some((id) => id.toLowerCase() === claims.oid.toLowerCase())) {
    // A shared mailbox has no sign-in of its own: as user= it needs the same grant, and its
    // absence is the classic "shared mailbox as the XOAUTH2 identity" failure (docs/m365.md §13).
    if (mailbox.type === 'shared') {
      return refuse(`${mailbox.address} is a shared mailbox (no licence, no sign-in of its own) and service principal ${claims.oid} has no FullAccess on it: sign in as a licensed mailbox that has Send As on ${mailbox.address} and send with From ${mailbox.address}`);
    }
    return refuse(`mailbox ${mailbox.address} does not grant FullAccess to service principal ${claims.oid} (Add-MailboxPermission was not run)`);
  }
  return { ok: true, mailbox, tenant, oid: claims.oid, appid: claims.appid };
}
