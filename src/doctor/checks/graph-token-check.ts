/**
 * Check `graph-token` (Transport graph or auto): Microsoft Entra ID issues a token for the
 * cloud's Microsoft Graph scope, its audience is Graph, and its `roles` contain `Mail.Send`
 * (or, without it, an RBAC for Applications "Application Mail.Send" assignment grants it).
 *
 * Why it exists: Graph's sendMail answers the same 403 for a missing Mail.Send and for a scope
 * that excludes the mailbox; the token's claims tell the first apart before any message is sent.
 * It also warns when the app holds tenant-wide Mail.Send (docs/m365.md §6.3: an Entra grant
 * covers every mailbox, and RBAC grants are additive to it), with the commands that scope the
 * app to the Authorized from Address, with the administrator's real IDs.
 * The request is `observeToken` (token-check.ts) with the Graph scope; `decideGraphToken` is pure.
 *
 * Imports: src/core (diagnosis), src/auth/jwt-claims (types), ./token-check, ../fix-commands.
 */
import type { TokenClaims } from '../../auth/jwt-claims.js';
import type { EmailSettings } from '../../core/settings.js';
import { diagnose } from '../../core/diagnosis/index.js';
import { GRAPH_SCOPE_TEMPLATES as T } from '../../core/diagnosis/graph-rules.js';
import type { DiagnosisContext } from '../../core/diagnosis/types.js';
import type { ExchangeFacts } from '../exchange-facts.js';
import { fillAll, fillOne, fillValues, joinFix } from '../fix-commands.js';
import type { CheckResult } from '../types.js';
import { checkFromDiagnosis } from './diagnosis-result.js';
import { graphAudiences } from './token-claims-check.js';
import type { TokenObservation } from './token-check.js';

export const MAIL_SEND_ROLE = 'Mail.Send';

/** What Exchange says about the app's RBAC for Applications "Application Mail.Send" assignments. */
export interface GraphRbacView {
  /** Where the facts come from. */
  source: string;
  /** The assignments of the app's service principal for Application Mail.Send (mailboxes null = all). */
  assignments: { mailboxes: string[] | null }[];
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** The app's "Application Mail.Send" assignments from Exchange facts (by oid or app id). */
export function graphRbacFrom(facts: ExchangeFacts, o: { oid?: string; clientId?: string }): GraphRbacView {
  return {
    source: facts.source,
    assignments: facts.rbacAssignments
      .filter((a) => a.role === 'Application Mail.Send' && ((o.oid && same(a.app, o.oid)) || (o.clientId && same(a.app, o.clientId))))
      .map((a) => ({ mailboxes: a.mailboxes })),
  };
}

export interface GraphTokenDecision {
  check: CheckResult;
  oid?: string;
  roles?: string[];
  /** A token Graph can use (right audience; Mail.Send by role or by an RBAC assignment, or not known to be missing). */
  usable: boolean;
  /** The token has no Mail.Send role and nothing showed an RBAC assignment: settled by graph-send when it runs. */
  undecided?: boolean;
}

/** The commands that scope the app to the Authorized from Address (RBAC for Applications), filled. */
export function scopeCommands(ctx: DiagnosisContext): string[] {
  return fillAll([T.EXO_CONNECT, T.NEW_SP, T.NEW_SCOPE, T.NEW_ASSIGNMENT, T.TEST_SPA], fillValues(ctx));
}

/**
 * @param claims the decoded Graph token (undefined when it is not a JWT)
 * @param rbac Exchange's Application Mail.Send assignments, when a source of facts was given
 */
export function decideGraphToken(o: TokenObservation, claims: TokenClaims | undefined, settings: EmailSettings, ctx: DiagnosisContext, rbac?: GraphRbacView): GraphTokenDecision {
  const base = { scope: settings.graphScope, endpoint: settings.graphEndpoint, ms: o.ms };
  if (!o.ok) {
    return { usable: false, check: checkFromDiagnosis('graph-token', diagnose(o.error, ctx), o.error, { details: base }) };
  }
  const aud = typeof claims?.aud === 'string' ? claims.aud : undefined;
  const oid = typeof claims?.oid === 'string' ? claims.oid : undefined;
  const roles = Array.isArray(claims?.roles) ? claims!.roles.filter((r): r is string => typeof r === 'string') : [];
  const full = { ...ctx, servicePrincipalObjectId: oid ?? ctx.servicePrincipalObjectId, tokenRoles: roles };
  const values = fillValues(full);
  const details = { ...base, expiresAt: new Date(o.expiresAt).toISOString(), aud, oid, roles };
  if (!aud || !graphAudiences().includes(aud.replace(/\/+$/, '').toLowerCase())) {
    return {
      usable: false, oid, roles,
      check: {
        id: 'graph-token', status: 'fail',
        summary: `The token for ${settings.graphScope} is not for Microsoft Graph (aud ${aud ?? 'missing'}): Graph refuses it with 401 "Invalid audience".`,
        fix: joinFix(['Leave Graph token scope (MAILGATE_GRAPH_SCOPE) empty so it follows the Cloud, or set it to the Graph resource of your cloud, e.g. https://graph.microsoft.com/.default.']),
        details,
      },
    };
  }
  const covering = rbac?.assignments.filter((a) => a.mailboxes === null || a.mailboxes.some((m) => same(m, settings.authorizedFrom))) ?? [];
  if (roles.includes(MAIL_SEND_ROLE)) {
    // Tenant-wide: an Entra grant covers every mailbox, whatever RBAC scopes exist (additive).
    const scoped = rbac && rbac.assignments.some((a) => a.mailboxes !== null);
    return {
      usable: true, oid, roles,
      check: {
        id: 'graph-token', status: 'warn',
        summary: `Microsoft Entra ID issued a Graph token with Mail.Send, but as an application permission it is tenant-wide: the app can send as any mailbox of the tenant, not only ${settings.authorizedFrom}.`,
        fix: joinFix([
          scoped
            ? `An RBAC for Applications scope exists (${rbac!.source}), but RBAC grants are added to the Entra grant, not subtracted from it: remove the Entra Mail.Send grant to make the scope the only one.`
            : `Scope the app to ${settings.authorizedFrom} with RBAC for Applications (commands below), check it with Test-ServicePrincipalAuthorization, then remove the tenant-wide Mail.Send application permission (Entra ID → App registrations → ${settings.clientId} → API permissions → Mail.Send → Remove permission, or revoke its admin consent): RBAC grants are added to the Entra grant, not subtracted from it.`,
          'Changes take 30 minutes to 2 hours to apply; run `mailgate doctor` again after that.',
        ]),
        commands: scopeCommands(full),
        details: { ...details, tenantWide: true, ...(rbac ? { rbacFrom: rbac.source, rbacAssignments: rbac.assignments.length } : {}) },
      },
    };
  }
  if (covering.length) {
    return {
      usable: true, oid, roles,
      check: {
        id: 'graph-token', status: 'pass',
        summary: `Microsoft Entra ID issued a Graph token; Mail.Send is granted by RBAC for Applications ("Application Mail.Send" scoped to include ${settings.authorizedFrom}, as read from ${rbac!.source}), not tenant-wide.`,
        details: { ...details, rbacFrom: rbac!.source },
      },
    };
  }
  if (rbac && rbac.assignments.length) {
    // An assignment exists but its scope misses the mailbox: graph-send shows Graph's answer.
    return {
      usable: true, oid, roles,
      check: {
        id: 'graph-token', status: 'pass',
        summary: `Microsoft Entra ID issued a Graph token; Mail.Send is granted by RBAC for Applications only (as read from ${rbac.source}), for other mailboxes than ${settings.authorizedFrom} (graph-send shows whether Graph accepts it).`,
        details: { ...details, rbacFrom: rbac.source },
      },
    };
  }
  const check: CheckResult = {
    id: 'graph-token', status: 'fail',
    summary: `The Graph token's roles (${roles.join(', ') || 'none'}) have no Mail.Send${rbac ? `, and no RBAC for Applications "Application Mail.Send" assignment exists for service principal ${oid ?? '?'} (as read from ${rbac.source})` : ''}: Graph answers sendMail with 403 ErrorAccessDenied.`,
    fix: joinFix([
      fillOne(T.CONSENT_FIX, values),
      `Or (scoped, recommended) grant it with RBAC for Applications for ${settings.authorizedFrom} only (commands below).`,
      'Changes take 30 minutes to 2 hours to apply; run `mailgate doctor` again after that.',
    ]),
    commands: scopeCommands(full),
    details: { ...details, ...(rbac ? { rbacFrom: rbac.source } : {}) },
  };
  return { usable: !rbac, undecided: !rbac, oid, roles, check };
}

/**
 * Without a source of Exchange facts, a token without Mail.Send may still send through an RBAC
 * assignment: a test message that Graph accepted settles graph-token as passed.
 */
export function settleGraphToken(c: CheckResult, sent: boolean): CheckResult {
  if (!sent || c.status !== 'fail') return c;
  return {
    id: 'graph-token', status: 'pass',
    summary: 'Microsoft Entra ID issued a Graph token without the Mail.Send role, and Graph accepted the test message: Mail.Send is granted by RBAC for Applications (scoped), not tenant-wide.',
    details: c.details,
  };
}
