/**
 * Exchange-side facts for narrowing a `535 5.7.3` down: which service principals Exchange Online
 * has for the app (Get-ServicePrincipal), whether the Authorized from Address is a mailbox of the
 * tenant and who has FullAccess on it (Get-MailboxPermission), and RBAC for Applications
 * assignments (Get-ManagementRoleAssignment).
 *
 * Why it exists: Exchange answers every OAuth refusal with the same `535 5.7.3 Authentication
 * unsuccessful` (docs/m365.md §3.4, §4: "Exchange does not tell you which check failed"), so from the
 * SMTP reply alone "no service principal", "App Registration object id registered", "no
 * FullAccess" and "not a mailbox of this tenant" cannot be told apart, and the doctor keeps its
 * ordered checklist. The emulator's reply is deliberately the same single text; it does NOT
 * encode the cause, because real Exchange does not either, and a doctor that learnt to read an
 * emulator-only distinction would be right against the emulator and wrong against Microsoft.
 * What *can* tell them apart honestly is looking at Exchange's configuration, as an administrator
 * does with Exchange Online PowerShell. Mailgate cannot do that against a real tenant (it holds
 * no Exchange admin credentials, by design), but the emulator can show its configuration the
 * same way (`GET {admin}/exchange`), so the doctor narrows the failure down only when it is given
 * such a source (`--emulator-admin`, MAILGATE_EMULATOR_ADMIN), and says where its facts came from.
 * The decision (`decideExchangeSide`) is pure and would serve a future real source unchanged.
 *
 * Imports: src/auth/https-request (the one HTTPS client with a per-request CA).
 */
import { httpsRequest } from '../auth/https-request.js';

export interface ExchangeFacts {
  /** Where the facts come from, shown in the report (e.g. "the emulator's admin API"). */
  source: string;
  /** Exchange's service principals for the app: `Get-ServicePrincipal | Where AppId -eq ...`. */
  servicePrincipals: { appId: string; objectId: string }[];
  /**
   * The Authorized from Address (the signed-in mailbox) as a mailbox of the tenant; null when it
   * is not one. `type` (Get-Mailbox RecipientTypeDetails: user or shared) and `sendAs`
   * (Get-RecipientPermission) when the source knows them.
   */
  mailbox: { address: string; fullAccess: string[]; type?: 'user' | 'shared'; sendAs?: string[] } | null;
  /**
   * A Send As sender's From address (asked with `from`): Get-RecipientPermission, who may send as
   * it; null when it is no mailbox; undefined when not asked or the source does not say.
   */
  fromMailbox?: { address: string; type?: 'user' | 'shared'; sendAs: string[] } | null;
  /**
   * RBAC for Applications assignments (`Get-ManagementRoleAssignment`): `app` (object id or app
   * id), the role (e.g. "Application SMTP.SendAsApp", "Application Mail.Send"), the covered
   * mailboxes (null = all). Only "Application SMTP.SendAsApp" gives SMTP access.
   */
  rbacAssignments: { app: string; role: string; mailboxes: string[] | null }[];
}

/** Reads the facts for an app and a mailbox. */
export type ExchangeFactsSource = (query: { clientId: string; authorizedFrom: string; from?: string }) => Promise<ExchangeFacts>;

const mailboxType = (v: unknown): 'user' | 'shared' | undefined => (v === 'user' || v === 'shared' ? v : undefined);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** The emulator's admin API (`{admin}/exchange?appId=&mailbox=`) as a source of Exchange facts. */
export function emulatorExchangeFacts(adminUrl: string, o: { ca?: string | Buffer; timeoutMs?: number } = {}): ExchangeFactsSource {
  const base = adminUrl.replace(/\/+$/, '');
  return async ({ clientId, authorizedFrom, from }) => {
    const url = `${base}/exchange?appId=${encodeURIComponent(clientId)}&mailbox=${encodeURIComponent(authorizedFrom)}${from ? `&from=${encodeURIComponent(from)}` : ''}`;
    const res = await httpsRequest(url, { method: 'GET', ca: o.ca, timeoutMs: o.timeoutMs ?? 5000 });
    if (res.status !== 200) throw new Error(`the emulator's admin API answered ${res.status}`);
    if (res.body.length > 1024 * 1024) throw new Error("the emulator's admin API answered more than 1 MiB");
    const body = JSON.parse(res.body) as Partial<ExchangeFacts> & { mailbox?: Record<string, unknown> | null; fromMailbox?: Record<string, unknown> | null };
    const m = body.mailbox;
    const f = body.fromMailbox;
    const type = mailboxType(m?.type);
    const fromType = mailboxType(f?.type);
    return {
      source: `the emulator's admin API (${base})`,
      servicePrincipals: Array.isArray(body.servicePrincipals) ? body.servicePrincipals : [],
      mailbox: m ? { address: String(m.address), fullAccess: strings(m.fullAccess), ...(type ? { type } : {}), ...(Array.isArray(m.sendAs) ? { sendAs: strings(m.sendAs) } : {}) } : null,
      ...(from && f !== undefined ? { fromMailbox: f ? { address: String(f.address), ...(fromType ? { type: fromType } : {}), sendAs: strings(f.sendAs) } : null } : {}),
      rbacAssignments: Array.isArray(body.rbacAssignments) ? body.rbacAssignments.flatMap(parseAssignment) : [],
    };
  };
}

/** One assignment of the admin API's answer, or nothing when it is not shaped like one. */
function parseAssignment(v: unknown): ExchangeFacts['rbacAssignments'] {
  if (!v || typeof v !== 'object') return [];
  const a = v as Record<string, unknown>;
  if (typeof a.app !== 'string') return [];
  const mailboxes = a.mailboxes === null ? null : Array.isArray(a.mailboxes) ? a.mailboxes.filter((m): m is string => typeof m === 'string') : [];
  // An assignment without a role is not assumed to be the SMTP one (role is '' then).
  return [{ app: a.app, role: typeof a.role === 'string' ? a.role : '', mailboxes }];
}

/** The RBAC for Applications role that gives SMTP AUTH (XOAUTH2) access to the covered mailboxes. */
export const SMTP_RBAC_ROLE = 'Application SMTP.SendAsApp';

export type ExchangeSideCause = 'mailbox-not-in-tenant' | 'no-service-principal' | 'app-registration-object-id' | 'no-full-access' | 'shared-mailbox-sign-in';

export interface ExchangeSideFinding {
  cause: ExchangeSideCause;
  /** One sentence, with the facts that prove it. */
  finding: string;
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/**
 * Which Exchange-side step is missing, from the facts and the token's oid; undefined when the
 * facts show every step done (then the checklist stays: propagation delay, another cause).
 * The order is the order Exchange's own checks must pass: the mailbox exists, the app is
 * registered, with the right object id, and has FullAccess (or an RBAC assignment covers it).
 */
export function decideExchangeSide(facts: ExchangeFacts, o: { clientId: string; authorizedFrom: string; oid: string }): ExchangeSideFinding | undefined {
  if (!facts.mailbox) {
    return { cause: 'mailbox-not-in-tenant', finding: `${o.authorizedFrom} is not a mailbox of this tenant (a typo in Authorized from Address, or a mailbox of another tenant).` };
  }
  const sps = facts.servicePrincipals.filter((sp) => same(sp.appId, o.clientId));
  if (!sps.length) {
    return { cause: 'no-service-principal', finding: `Exchange Online has no service principal for app ${o.clientId}: New-ServicePrincipal was not run.` };
  }
  if (!sps.some((sp) => same(sp.objectId, o.oid))) {
    return {
      cause: 'app-registration-object-id',
      finding: `Exchange Online's service principal for app ${o.clientId} has ObjectId ${sps.map((sp) => sp.objectId).join(', ')}, but the token's oid (the Enterprise Application object id) is ${o.oid}: it was registered with another Object ID, usually the App Registration's.`,
    };
  }
  // Only the SMTP role counts: a Graph role ("Application Mail.Send") gives no SMTP access.
  const rbac = facts.rbacAssignments.some((a) => same(a.role, SMTP_RBAC_ROLE) && (same(a.app, o.oid) || same(a.app, o.clientId)) && (a.mailboxes === null || a.mailboxes.some((m) => same(m, o.authorizedFrom))));
  if (!rbac && !facts.mailbox.fullAccess.some((id) => same(id, o.oid))) {
    if (facts.mailbox.type === 'shared') {
      // The shared mailbox trap (docs/m365.md §13): the fix is a licensed mailbox with Send As on it.
      const trustees = (facts.mailbox.sendAs ?? []).filter((t) => t.includes('@'));
      return {
        cause: 'shared-mailbox-sign-in',
        finding: `${facts.mailbox.address} is a shared mailbox (no sign-in of its own) and service principal ${o.oid} has no FullAccess on it${trustees.length ? `; ${trustees.join(', ')} ha${trustees.length > 1 ? 've' : 's'} Send As on it` : ''}.`,
      };
    }
    return { cause: 'no-full-access', finding: `Mailbox ${facts.mailbox.address} does not grant FullAccess to service principal ${o.oid}: Add-MailboxPermission was not run.` };
  }
  return undefined;
}
