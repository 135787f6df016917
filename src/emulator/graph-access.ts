/**
 * The emulated Graph's decisions as pure functions: is the bearer token one Graph accepts (its
 * signature, lifetime and audience; an Outlook token gets "Invalid audience"), which mailbox does
 * `/users/{id | userPrincipalName}` name (and can Graph reach it: a licence, not on-premises),
 * and may the app use a permission on it.
 *
 * The permission rule (docs/m365.md §6.3, §13): the app may act on a mailbox when the token's
 * `roles` carry the Entra application permission (`Mail.Send`, `Mail.ReadWrite`), tenant-wide,
 * unless an Application Access Policy for the app excludes the mailbox (RestrictAccess to a group
 * without it, or DenyAccess with it); or when an RBAC for Applications assignment of
 * `Application <permission>` for the app's service principal covers the mailbox. The two grants
 * are independent and additive (Microsoft: an app that also holds Entra `Mail.Send` is not
 * limited by an RBAC scope), and Access Policies restrict only the Entra grant (emulator choice:
 * Microsoft documents RBAC as the policies' replacement, not how the two combine).
 *
 * Check order (Microsoft does not document it; the emulator's choice): token → the permission
 * held anywhere at all (no role and no RBAC assignment → ErrorAccessDenied whatever the mailbox)
 * → the mailbox exists in the token's tenant → it can use REST → the grant covers it.
 *
 * Why it exists: these are the rules tests assert; keeping them free of HTTP keeps them readable.
 *
 * Imports: ./access-token.ts, ./state.ts, ./graph-errors.ts.
 */
import { GRAPH_AUDIENCES, type AccessTokenClaims, type VerifyTokenResult } from './access-token.js';
import { GRAPH_ERRORS, invalidUserMessage, type GraphErrorSpec } from './graph-errors.js';
import { findMailboxByUserId, isGuid, type EmulatorState, type MailboxState, type TenantState } from './state.js';

export type GraphPermission = 'Mail.Send' | 'Mail.ReadWrite';

export type GraphRefusal = { ok: false; error: GraphErrorSpec; reason: string; message?: string };

export type GraphTokenVerdict = { ok: true; claims: AccessTokenClaims; tenant: TenantState } | GraphRefusal;

const refuse = (error: GraphErrorSpec, reason: string, message?: string): GraphRefusal => ({ ok: false, error, reason, ...(message ? { message } : {}) });

/** Reads `Authorization: Bearer <token>`; `undefined` when absent or another scheme. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** Graph's token check: present, a JWT signed by the emulator, in its lifetime, for Graph, from a known tenant. */
export function decideGraphToken(state: EmulatorState, token: string | undefined, verified: VerifyTokenResult | undefined): GraphTokenVerdict {
  if (!token || !verified) return refuse(GRAPH_ERRORS.tokenEmpty, 'no Authorization: Bearer header');
  if (!verified.ok) {
    if (verified.reason.startsWith('the bearer token is not a JWT')) return refuse(GRAPH_ERRORS.tokenNotJwt, verified.reason);
    if (verified.reason.startsWith('the token expired')) return refuse(GRAPH_ERRORS.tokenExpired, verified.reason);
    return refuse(GRAPH_ERRORS.tokenInvalid, verified.reason);
  }
  const { claims } = verified;
  if (!GRAPH_AUDIENCES.includes(claims.aud)) {
    return refuse(GRAPH_ERRORS.tokenAudience, `the token's audience is ${claims.aud}, not Microsoft Graph (request the scope https://graph.microsoft.com/.default; an Outlook token is for SMTP only)`);
  }
  const tenant = state.tenants.find((t) => t.id.toLowerCase() === claims.tid.toLowerCase());
  if (!tenant) return refuse(GRAPH_ERRORS.tokenInvalid, `the token's tenant ${claims.tid} is not in the emulator state`);
  return { ok: true, claims, tenant };
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

function rbacAssignments(tenant: TenantState, claims: AccessTokenClaims, permission: GraphPermission) {
  return tenant.rbacAssignments.filter((a) => a.role === `Application ${permission}` && (same(a.app, claims.oid) || same(a.app, claims.appid)));
}

/** Step 1: does the app hold the permission anywhere (Entra role, or any RBAC assignment of it)? */
export function holdsPermission(tenant: TenantState, claims: AccessTokenClaims, permission: GraphPermission): { ok: true } | GraphRefusal {
  if (claims.roles.includes(permission) || rbacAssignments(tenant, claims, permission).length) return { ok: true };
  return refuse(GRAPH_ERRORS.accessDenied, claims.roles.length
    ? `the token's roles (${claims.roles.join(', ')}) do not include ${permission}, and no RBAC for Applications assignment of "Application ${permission}" exists for the app (add the Microsoft Graph application permission ${permission} and grant admin consent, or assign the RBAC role)`
    : `the token has no roles claim (no Microsoft Graph application permission was granted admin consent), and no RBAC for Applications assignment of "Application ${permission}" exists for the app`);
}

export type MailboxVerdict = { ok: true; mailbox: MailboxState } | GraphRefusal;

/** Step 2: `/users/{id | userPrincipalName}` in the token's tenant, and whether Graph can reach its mailbox. */
export function resolveGraphMailbox(tenant: TenantState, userSegment: string): MailboxVerdict {
  const mailbox = findMailboxByUserId(tenant, userSegment);
  if (!mailbox) {
    // A user object id that names nobody: "Resource could not be discovered."; an address: ErrorInvalidUser.
    if (isGuid(userSegment)) return refuse(GRAPH_ERRORS.resourceNotFound, `no user with object id ${userSegment} in tenant ${tenant.id}`);
    return refuse(GRAPH_ERRORS.invalidUser, `no mailbox ${userSegment} in tenant ${tenant.id}`, invalidUserMessage(userSegment));
  }
  // A shared mailbox needs no licence (up to 50 GB): Graph reaches it (docs/m365.md §13, inference).
  if (!mailbox.licensed && mailbox.type !== 'shared') return refuse(GRAPH_ERRORS.mailboxNotEnabled, `the user of ${mailbox.address} has no Exchange Online licence`);
  if (mailbox.onPremises) return refuse(GRAPH_ERRORS.mailboxNotEnabled, `${mailbox.address} is hosted on Exchange on-premises`);
  return { ok: true, mailbox };
}

/** Step 3: does a grant cover this mailbox (Entra role not blocked by an Access Policy, or an RBAC scope)? */
export function decideMailboxAccess(tenant: TenantState, claims: AccessTokenClaims, mailbox: MailboxState, permission: GraphPermission): { ok: true; via: 'entra' | 'rbac' } | GraphRefusal {
  const address = mailbox.address;
  const rbac = rbacAssignments(tenant, claims, permission);
  const rbacCovers = rbac.some((a) => a.mailboxes === null || a.mailboxes.some((m) => same(m, address)));
  let policyReason: string | undefined;
  if (claims.roles.includes(permission)) {
    const policies = tenant.applicationAccessPolicies.filter((p) => same(p.appId, claims.appid));
    const denied = policies.find((p) => p.accessRight === 'DenyAccess' && p.mailboxes.some((m) => same(m, address)));
    const restricts = policies.filter((p) => p.accessRight === 'RestrictAccess');
    if (denied) policyReason = `an Application Access Policy (DenyAccess) for app ${claims.appid} names ${address}`;
    else if (restricts.length && !restricts.some((p) => p.mailboxes.some((m) => same(m, address)))) {
      policyReason = `the Application Access Policy (RestrictAccess) for app ${claims.appid} limits it to ${restricts.flatMap((p) => p.mailboxes).join(', ') || 'an empty group'}, not ${address}`;
    } else return { ok: true, via: 'entra' };
  }
  if (rbacCovers) return { ok: true, via: 'rbac' };
  if (policyReason) return refuse(GRAPH_ERRORS.accessPolicyBlocked, policyReason);
  return refuse(GRAPH_ERRORS.accessDenied, `the RBAC for Applications scope of "Application ${permission}" for the app (${rbac.map((a) => (a.mailboxes ?? []).join(', ') || 'no mailboxes').join('; ')}) does not include ${address}`);
}
