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
  /** The Authorized from Address as a mailbox of the tenant; null when it is not one. */
  mailbox: { address: string; fullAccess: string[] } | null;
  /** "Application SMTP.SendAsApp" assignments: `app` (object id or app id), the covered mailboxes (null = all). */
  rbacAssignments: { app: string; mailboxes: string[] | null; role?: string }[];
}

/** Reads the facts for an app and a mailbox. */
export type ExchangeFactsSource = (query: { clientId: string; authorizedFrom: string }) => Promise<ExchangeFacts>;

/** The emulator's admin API (`{admin}/exchange?appId=&mailbox=`) as a source of Exchange facts. */
export function emulatorExchangeFacts(adminUrl: string, o: { ca?: string | Buffer; timeoutMs?: number } = {}): ExchangeFactsSource {
  const base = adminUrl.replace(/\/+$/, '');
  return async ({ clientId, authorizedFrom }) => {
    const url = `${base}/exchange?appId=${encodeURIComponent(clientId)}&mailbox=${encodeURIComponent(authorizedFrom)}`;
    const res = await httpsRequest(url, { method: 'GET', ca: o.ca, timeoutMs: o.timeoutMs ?? 5000 });
    if (res.status !== 200) throw new Error(`the emulator's admin API answered ${res.status}`);
    if (res.body.length > 1024 * 1024) throw new Error("the emulator's admin API answered more than 1 MiB");
    const body = JSON.parse(res.body) as Partial<ExchangeFacts> & { mailbox?: { address: string; fullAccess: string[] } | null };
    return {
      source: `the emulator's admin API (${base})`,
      servicePrincipals: Array.isArray(body.servicePrincipals) ? body.servicePrincipals : [],
      mailbox: body.mailbox ? { address: String(body.mailbox.address), fullAccess: Array.isArray(body.mailbox.fullAccess) ? body.mailbox.fullAccess.map(String) : [] } : null,
      rbacAssignments: Array.isArray(body.rbacAssignments) ? body.rbacAssignments : [],
    };
  };
}

export type ExchangeSideCause = 'mailbox-not-in-tenant' | 'no-service-principal' | 'app-registration-object-id' | 'no-full-access';

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
  const rbac = facts.rbacAssignments.some((a) => (a.role === undefined || a.role === 'Application SMTP.SendAsApp') && (same(a.app, o.oid) || same(a.app, o.clientId)) && (a.mailboxes === null || a.mailboxes.some((m) => same(m, o.authorizedFrom))));
  if (!rbac && !facts.mailbox.fullAccess.some((id) => same(id, o.oid))) {
    return { cause: 'no-full-access', finding: `Mailbox ${facts.mailbox.address} does not grant FullAccess to service principal ${o.oid}: Add-MailboxPermission was not run.` };
  }
  return undefined;
}
