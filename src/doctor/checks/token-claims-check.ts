/**
 * Check `token-claims`: what Exchange Online will see in the access token — audience, tenant,
 * roles — and the token's `oid`, the Enterprise Application object id that
 * `New-ServicePrincipal -ObjectId` and `Add-MailboxPermission -User` need.
 *
 * Why it exists: Exchange answers every OAuth failure with the same `535 5.7.3`. Decoding the
 * token (not verifying it: Microsoft says tokens for its APIs are opaque to clients, docs/m365.md
 * §1.4) separates the Entra-side causes (a Graph token, the wrong tenant, no admin consent) from
 * the Exchange-side ones, and yields the right object id for every later command.
 *
 * Decision on roles (docs/m365.md §8.2): with set-up A the token must carry `SMTP.SendAsApp`; with
 * set-up B (RBAC for Applications) Microsoft says *not* to add that permission in Entra, so a
 * token without it is legitimate there. From the token alone the two cannot be told apart, so a
 * missing role is a `warn` that names both readings (with the exact portal path for the consent);
 * the smtp-auth check then decides: if the sign-in succeeds the warning is settled as set-up B
 * (`settleRolesWarning`), if it fails with 535 the consent fix leads its explanation.
 *
 * Pure: no I/O.
 *
 * Imports: src/auth/jwt-claims (types), src/core (clouds, settings, diagnosis types), ../fix-commands.
 */
import type { TokenClaims } from '../../auth/jwt-claims.js';
import { CLOUDS, type CloudId } from '../../core/clouds.js';
import type { EmailSettings } from '../../core/settings.js';
import type { DiagnosisContext } from '../../core/diagnosis/types.js';
import { CONSENT_PATH, fillOne, fillValues, joinFix } from '../fix-commands.js';
import type { CheckResult } from '../types.js';
import { isGuid } from '../../core/settings.js';

export const EXCHANGE_APP_ID = '00000002-0000-0ff1-ce00-000000000000';
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
export const SEND_AS_APP_ROLE = 'SMTP.SendAsApp';

const norm = (s: string) => s.trim().replace(/\/+$/, '').toLowerCase();
const resourceOf = (scope: string) => norm(scope.replace(/\/\.default$/i, ''));

/** The audiences Exchange Online's SMTP accepts for a cloud (docs/m365.md §1.3, §2.2). */
export function exchangeAudiences(cloud: CloudId): string[] {
  const own = resourceOf(CLOUDS[cloud].smtpScope);
  const list = cloud === 'global' ? ['https://outlook.office365.com', 'https://ps.outlook.com'] : [own];
  return [...new Set([...list.map(norm), own, EXCHANGE_APP_ID])];
}

/** Microsoft Graph's audiences in every cloud. */
export function graphAudiences(): string[] {
  return [...new Set([...Object.values(CLOUDS).map((c) => norm(c.graphHost)), GRAPH_APP_ID])];
}


export interface ClaimsDecision {
  check: CheckResult;
  /** The token's oid when it is a GUID: the Enterprise Application object id. */
  oid?: string;
  /** The token's roles (undefined when the token could not be decoded). */
  roles?: string[];
  /** True when audience, tenant and oid are fine and SMTP.SendAsApp is present. */
  good: boolean;
}

function stringClaim(c: TokenClaims, key: string): string | undefined {
  const v = c[key];
  return typeof v === 'string' ? v : undefined;
}

/**
 * Decides from the decoded claims (undefined: the token is not a readable JWT).
 * `ctx` fills the commands and the portal path with the administrator's values.
 */
export function decideTokenClaims(claims: TokenClaims | undefined, settings: EmailSettings, ctx: DiagnosisContext): ClaimsDecision {
  if (!claims) {
    return {
      good: false,
      check: {
        id: 'token-claims',
        status: 'warn',
        summary: 'The access token is not a readable JWT, so its audience, tenant and roles cannot be shown; the smtp-auth check decides.',
        fix: 'Nothing to do if smtp-auth passes. Microsoft may issue tokens in a format clients cannot read.',
      },
    };
  }
  const aud = stringClaim(claims, 'aud');
  const tid = stringClaim(claims, 'tid');
  const oidRaw = stringClaim(claims, 'oid');
  const oid = oidRaw && isGuid(oidRaw) ? oidRaw : undefined;
  const appid = stringClaim(claims, 'appid') ?? stringClaim(claims, 'azp');
  const roles = Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
  const details: Record<string, unknown> = {
    aud,
    tid,
    oid: oidRaw,
    appid,
    roles,
    ...(stringClaim(claims, 'idtyp') ? { idtyp: stringClaim(claims, 'idtyp') } : {}),
    ...(stringClaim(claims, 'appidacr') ? { appidacr: stringClaim(claims, 'appidacr') } : {}),
    ...(stringClaim(claims, 'iss') ? { iss: stringClaim(claims, 'iss') } : {}),
    ...(typeof claims.exp === 'number' ? { expiresAt: new Date(claims.exp * 1000).toISOString() } : {}),
  };
  const values = fillValues({ ...ctx, servicePrincipalObjectId: oid ?? ctx.servicePrincipalObjectId });
  const failures: string[] = [];
  const fixes: string[] = [];
  const scopeFix = `Set Token scope (MAILGATE_SCOPE) to ${CLOUDS[settings.cloud].smtpScope}, or remove the setting to use the default of the ${CLOUDS[settings.cloud].label} cloud.`;

  const audNorm = aud ? norm(aud) : '';
  if (!aud) {
    failures.push('the token has no audience (aud)');
    fixes.push(scopeFix);
  } else if (graphAudiences().includes(audNorm)) {
    failures.push(`the token's audience is Microsoft Graph (${aud}), not Exchange Online: the scope asks for Graph (${settings.scope}), and SMTP refuses Graph tokens`);
    fixes.push(scopeFix, 'Keep Microsoft Graph Mail.Send only if another application uses Graph; SMTP needs the Office 365 Exchange Online permission SMTP.SendAsApp.');
  } else if (!exchangeAudiences(settings.cloud).includes(audNorm)) {
    failures.push(`the token's audience ${aud} is not Exchange Online (SMTP accepts ${exchangeAudiences(settings.cloud).join(', ')})`);
    fixes.push(scopeFix);
  }

  const tenantIsGuid = !!settings.tenantId && isGuid(settings.tenantId);
  if (tenantIsGuid && tid && norm(tid) !== norm(settings.tenantId!)) {
    failures.push(`the token was issued by tenant ${tid}, not by Directory (tenant) ID ${settings.tenantId}`);
    fixes.push('Copy Directory (tenant) ID again from App registrations → the app → Overview; the mailbox must be in the same tenant.');
  }
  if (!oid) {
    failures.push('the token has no object id (oid): the app has no Enterprise application (service principal) in the tenant');
    fixes.push(
      'Create the Enterprise application by granting admin consent in the tenant (API permissions → Grant admin consent); since March 2026 Entra blocks sign-ins without a service principal.',
    );
  }

  const hasRole = roles.includes(SEND_AS_APP_ROLE);
  const tenantNote = !tenantIsGuid && settings.tenantId && tid ? ` (tenant ${settings.tenantId} is ${tid})` : '';
  const decided = (good: boolean, check: Omit<CheckResult, 'id'>): ClaimsDecision => ({ good, oid, roles, check: { id: 'token-claims', ...check } });
  if (failures.length) {
    return decided(false, { status: 'fail', summary: `The token is not usable for SMTP: ${failures.join('; ')}.`, fix: joinFix(fixes), details });
  }

  const oidNote = `the token's oid ${oid} is the Enterprise Application object id Exchange expects (use it with New-ServicePrincipal -ObjectId and Add-MailboxPermission -User)`;
  if (!hasRole) {
    const rolesText = roles.length ? `roles ${roles.join(', ')} but not ${SEND_AS_APP_ROLE}` : 'no roles at all';
    return decided(false, {
      status: 'warn',
      summary: `The token has the Exchange Online audience ${aud}${tenantNote} but ${rolesText}: admin consent for ${SEND_AS_APP_ROLE} was not granted or the permission is missing — unless you use RBAC for Applications, where this is expected. The token's oid ${oid} is the Enterprise Application object id.`,
      fix: joinFix([
        `With the usual set-up (Entra permission + FullAccess): add the permission and grant admin consent: ${fillOne(CONSENT_PATH, values)} Then run \`mailgate doctor\` again; the new token must list ${SEND_AS_APP_ROLE} in roles.`,
        `With RBAC for Applications (the least-privilege set-up, \`mailgate setup-script\` shows it) Microsoft says not to add ${SEND_AS_APP_ROLE} in Entra; then a token without it is right, and the smtp-auth check decides.`,
      ]),
      details: { ...details, rolesMissing: true },
    });
  }
  return decided(true, {
    status: 'pass',
    summary: `The token has the Exchange Online audience ${aud}, tenant ${tid}${!tenantIsGuid && settings.tenantId ? ` (${settings.tenantId})` : ''}, and the role ${SEND_AS_APP_ROLE}; ${oidNote}.`,
    details,
  });
}

/**
 * After smtp-auth succeeded, a token without SMTP.SendAsApp means RBAC for Applications is in
 * use (set-up B), which is right: the roles warning becomes a pass. Otherwise unchanged. Pure.
 */
export function settleRolesWarning(check: CheckResult, smtpAuthPassed: boolean): CheckResult {
  if (!smtpAuthPassed || check.status !== 'warn' || check.details?.rolesMissing !== true) return check;
  const { rolesMissing: _ignored, ...details } = check.details;
  return {
    id: check.id,
    status: 'pass',
    summary: `The token has no ${SEND_AS_APP_ROLE} role and SMTP AUTH succeeded: RBAC for Applications is in use, where that is expected. oid ${String(details.oid)} is the Enterprise Application object id.`,
    details: { ...details, setUp: 'RBAC for Applications' },
  };
}
