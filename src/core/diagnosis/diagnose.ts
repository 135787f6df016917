/**
 * diagnose(error) → Diagnosis: the one explanation of a failure that the CLI, the HTTP API,
 * the doctor and the admin page all show.
 *
 * Why: a failure must say which step failed, why, and the exact fix with the administrator's
 * own IDs. The knowledge lives in the rule tables (aadsts-rules, smtp-rules, transport-rules);
 * this module only picks the row, in this order:
 *   1. the token endpoint's AADSTS codes (Entra says precisely what is wrong),
 *   2. the SMTP reply (code + enhanced status + text),
 *   3. Microsoft Graph's answer (status, error code, message: graph-rules),
 *   4. our error code, refined by the low-level signal (ECONNREFUSED, certificate errors, ...),
 * and renders it with values from the caller's DiagnosisContext, then from the error's own
 * redacted context, then from what the server reply names. Every value is shape-checked in
 * render.ts; nothing else from the error (message, cause, free text) is ever copied, so a
 * diagnosis cannot echo a secret or a token.
 *
 * Pure and total: no I/O, never throws; anything that is not a MailgateError gets a sane
 * generic diagnosis (or a network one when its system error code says so).
 *
 * Imports: nothing outside src/core.
 */
import { isMailgateError, parseSmtpReply, type MailgateError, type Problem, type SmtpReply, type TokenEndpointReply } from '../errors.js';
import { aadstsRule, unknownAadstsRule } from './aadsts-rules.js';
import { matchGraphCode, matchGraphReply } from './graph-rules.js';
import { contextSource, renderRule, resolveValues, redactOpaque, type FillValues, type ValueSource } from './render.js';
import { collectSignals, foreignSmtpReply, inferErrorCode } from './signals.js';
import { matchSmtpReply, SMTP_PERMANENT_RULE, SMTP_TRANSIENT_RULE, UNRECOGNIZED_REPLY_RULE } from './smtp-rules.js';
import { matchTransport, UNKNOWN_ERROR_RULE } from './transport-rules.js';
import type { Diagnosis, DiagnosisContext, DiagnosisRule } from './types.js';

const GENERIC_SMTP_RULES = new Set([SMTP_TRANSIENT_RULE.id, SMTP_PERMANENT_RULE.id]);

/** When a rule's commands need the oid and it is unknown, these find it first. */
const OID_LOOKUP_COMMANDS = [
  'Connect-MgGraph -TenantId {tenantId} -Scopes Application.Read.All',
  `(Get-MgServicePrincipal -Filter "appId eq '{clientId}'").Id`,
];

function render(rule: DiagnosisRule, values: FillValues, extraFixes: readonly string[] = []): Diagnosis {
  const needsOid = !values.oid && rule.commands?.some((c) => c.includes('{oid}'));
  const withLookup = needsOid ? { ...rule, commands: [...OID_LOOKUP_COMMANDS, ...rule.commands!] } : rule;
  return renderRule(withLookup, values, extraFixes);
}

/** The safe keys of a MailgateError's context, mapped onto placeholder keys. */
function errorContextSource(error: MailgateError): ValueSource {
  const c = error.context;
  const onSmtpSide = error.phase === 'connect' || error.phase === 'tls' || error.phase === 'auth' || error.phase === 'send';
  return {
    clientId: c.clientId,
    tenantId: c.tenantId ?? c.tenant,
    authorizedFrom: c.authorizedFrom ?? c.mailbox ?? c.user,
    from: c.from,
    oid: c.servicePrincipalObjectId ?? c.oid,
    smtpHost: c.smtpHost ?? (onSmtpSide ? c.host : undefined),
    smtpPort: c.smtpPort ?? (onSmtpSide ? c.port : undefined),
    authorityHost: c.authorityHost,
    scope: c.scope,
  };
}

/** AADSTS numbers from `error_codes`, else from the description text. */
function aadstsCodes(token: TokenEndpointReply | undefined): number[] {
  if (!token) return [];
  const listed = Array.isArray(token.aadsts) ? token.aadsts.filter((n) => Number.isInteger(n) && n > 0) : [];
  if (listed.length) return listed;
  const text = typeof token.description === 'string' ? token.description : '';
  return [...text.matchAll(/AADSTS(\d{4,9})/g)].map((m) => Number(m[1]));
}

/** Values Entra's description names (the app id in AADSTS700016/7000215). */
function tokenSource(token: TokenEndpointReply | undefined): ValueSource {
  const text = typeof token?.description === 'string' ? token.description : '';
  const app = /(?:identifier|app) '([0-9a-f-]{36})'/i.exec(text);
  return app ? { clientId: app[1] } : {};
}

function isTransientTokenReply(token: TokenEndpointReply | undefined): boolean {
  return token?.error === 'temporarily_unavailable' || token?.status === 429 || (token?.status ?? 0) >= 500;
}

function smtpDiagnosis(reply: SmtpReply, ctx: DiagnosisContext, sources: ValueSource[]): Diagnosis | undefined {
  const matcher = matchSmtpReply(reply, ctx);
  if (!matcher) return undefined;
  const extracted = matcher.extract?.(reply.raw) ?? {};
  return render(matcher.rule, resolveValues(...sources, extracted));
}

const KEY = /^[A-Za-z0-9_.[\]-]{1,64}$/;
const ENV = /^[A-Z][A-Z0-9_]{0,63}$/;

/** One fix line per settings/argument problem: label, key, environment variable, message. */
function problemFixes(problems: readonly Problem[] | undefined): string[] {
  if (!Array.isArray(problems)) return [];
  return problems.slice(0, 50).map((p) => {
    const key = typeof p.key === 'string' && KEY.test(p.key) ? p.key : 'value';
    const env = typeof p.env === 'string' && ENV.test(p.env) ? `, ${p.env}` : '';
    const label = typeof p.label === 'string' && p.label ? `${redactOpaque(p.label)} (${key}${env})` : `${key}${env ? ` (${env.slice(2)})` : ''}`;
    const message = typeof p.message === 'string' ? redactOpaque(p.message.replace(/[\r\n]+/g, ' ')) : 'is invalid';
    // Settings problems already name their label, key and variable (settings.ts); don't repeat them.
    return message.includes(`(${key}`) ? message : `${label}: ${message}`;
  });
}

function diagnoseMailgateError(error: MailgateError, ctx: DiagnosisContext): Diagnosis {
  const sources = [contextSource(ctx), errorContextSource(error)];
  const codes = aadstsCodes(error.token);
  for (const code of codes) {
    const rule = aadstsRule(code);
    if (rule) return render(rule, resolveValues(...sources, tokenSource(error.token)));
  }
  if (error.smtp) {
    const d = smtpDiagnosis(error.smtp, ctx, sources);
    // A generic 4xx/5xx explanation says less than our code does when the code is specific
    // (e.g. STARTTLS_UNAVAILABLE after `454 4.7.0 TLS not available`).
    const generic = d && GENERIC_SMTP_RULES.has(d.id) && error.code !== 'SMTP_TRANSIENT' && error.code !== 'SMTP_REJECTED';
    if (d && !generic) return d;
  }
  if (error.graph || error.code.startsWith('GRAPH_')) {
    // Microsoft Graph's answer (status, error code, message), else our Graph code.
    const rule = (error.graph ? matchGraphReply(error.graph, ctx) : undefined) ?? matchGraphCode(error.code, collectSignals(error));
    if (rule) return render(rule, resolveValues(...sources));
  }
  const values = resolveValues(...sources, tokenSource(error.token));
  // An unknown AADSTS code on a transient answer (5xx, 429, temporarily_unavailable) is better
  // explained as "the token endpoint is unavailable" than as an unknown refusal.
  if (codes.length && error.code !== 'TOKEN_UNAVAILABLE' && !isTransientTokenReply(error.token)) {
    return render(unknownAadstsRule(codes[0]!), values);
  }
  const matcher = matchTransport(error.code, collectSignals(error), error.token);
  return render(matcher?.rule ?? UNKNOWN_ERROR_RULE, values, problemFixes(error.problems));
}

function diagnoseForeign(error: unknown, ctx: DiagnosisContext): Diagnosis {
  const values = resolveValues(contextSource(ctx));
  const reply = foreignSmtpReply(error);
  if (reply) {
    const d = smtpDiagnosis(reply, ctx, [contextSource(ctx)]);
    if (d) return d;
  }
  const signals = collectSignals(error);
  const code = inferErrorCode(signals);
  const matcher = code ? matchTransport(code, signals, undefined) : undefined;
  return render(matcher?.rule ?? UNKNOWN_ERROR_RULE, values);
}

/** Last resort when even rendering failed (e.g. a context object with throwing getters). */
const STATIC_UNKNOWN: Diagnosis = {
  id: UNKNOWN_ERROR_RULE.id,
  summary: UNKNOWN_ERROR_RULE.summary,
  causes: [...UNKNOWN_ERROR_RULE.causes],
  fixes: [...UNKNOWN_ERROR_RULE.fixes],
};

/**
 * Explains any failure. Pure, never throws, never echoes a secret.
 *
 * @param error a MailgateError (best), a foreign error, or anything thrown
 * @param ctx the administrator's values for the commands (settings, the token's oid)
 * @example
 * const d = diagnose(err, { clientId, tenantId, authorizedFrom, servicePrincipalObjectId: oid });
 * console.log(d.summary); d.commands?.forEach((c) => console.log(c));
 */
export function diagnose(error: unknown, ctx?: DiagnosisContext): Diagnosis {
  try {
    const context = ctx && typeof ctx === 'object' ? ctx : {};
    return isMailgateError(error) ? diagnoseMailgateError(error, context) : diagnoseForeign(error, context);
  } catch {
    return structuredClone(STATIC_UNKNOWN);
  }
}

/**
 * Explains one SMTP reply line, e.g. `535 5.7.3 Authentication unsuccessful [...]`.
 * `command` (e.g. `AUTH LOGIN`) refines replies whose meaning depends on it.
 */
export function diagnoseSmtpReply(raw: string, ctx?: DiagnosisContext, command?: string): Diagnosis {
  try {
    const context = ctx && typeof ctx === 'object' ? ctx : {};
    const reply = typeof raw === 'string' ? parseSmtpReply(raw, command) : undefined;
    const d = reply ? smtpDiagnosis(reply, context, [contextSource(context)]) : undefined;
    return d ?? render(UNRECOGNIZED_REPLY_RULE, resolveValues(contextSource(context)));
  } catch {
    return structuredClone(STATIC_UNKNOWN);
  }
}

/** Explains one AADSTS code from the token endpoint, e.g. 7000215. */
export function diagnoseAadsts(code: number, ctx?: DiagnosisContext): Diagnosis {
  try {
    const context = ctx && typeof ctx === 'object' ? ctx : {};
    const n = Number.isInteger(code) && code > 0 ? code : 0;
    return render(aadstsRule(n) ?? unknownAadstsRule(n), resolveValues(contextSource(context)));
  } catch {
    return structuredClone(STATIC_UNKNOWN);
  }
}

/** Renders a rule from any table (for callers that decided the cause themselves, e.g. the doctor). */
export function renderDiagnosisRule(rule: DiagnosisRule, ctx?: DiagnosisContext): Diagnosis {
  return render(rule, resolveValues(contextSource(ctx)));
}
