/**
 * runDoctor: walks the chain an administrator would check by hand — settings, DNS, TCP,
 * STARTTLS, token, token claims, SMTP AUTH, a test message — and returns one report with a
 * fix (and commands with the administrator's own IDs) for every failed step.
 *
 * Why it exists: this is the orchestration only. Each check lives in ./checks with its I/O
 * (`observe…`) separated from its decision (`decide…`); this module decides the order, which
 * later checks are skipped because an earlier one makes them meaningless, carries what one check
 * learned (the token's oid and roles) into the next, and makes sure no secret or token can
 * appear anywhere in the report. The CLI, the HTTP API and the admin page all call it.
 *
 * Imports: src/core (settings, errors, message, secret), src/auth/jwt-claims, ./checks/*.
 */
import { MailgateError } from '../core/errors.js';
import { validateMessage } from '../core/message.js';
import { Secret, scrubDeep } from '../core/secret.js';
import { parseSettings, secretValues, type EmailSettings, type RawSettings } from '../core/settings.js';
import { decodeTokenClaims } from '../auth/jwt-claims.js';
import type { SessionOptions } from '../transport/smtp-session.js';
import type { DiagnosisContext } from '../core/diagnosis/types.js';
import { contextFor } from '../core/diagnosis/index.js';
import { decideSettings, observeCertificate } from './checks/settings-check.js';
import { decideDns, observeDns, systemLookup } from './checks/dns-check.js';
import { decideTcp, observeTcp } from './checks/tcp-check.js';
import { decideGraphReach, graphTarget } from './checks/graph-reach-check.js';
import { decideStarttls, observeStarttls } from './checks/starttls-check.js';
import { decideToken, observeToken, type TokenObservation } from './checks/token-check.js';
import { decideSecondary, observeSecondary, observeSecondaryCertificate } from './checks/secondary-credential.js';
import { failoverDecision } from '../core/credential-rotation.js';
import { decideTokenClaims, settleRolesWarning, type ClaimsDecision } from './checks/token-claims-check.js';
import { decideSmtpAuth, observeSmtpAuth, type ExchangeSideView, type SmtpAuthObservation } from './checks/smtp-auth-check.js';
import { decideExchangeSide } from './exchange-facts.js';
import { decideSend, observeSend } from './checks/send-check.js';
import { decideSendAs, SEND_AS_DENIED_RULES, type SendAsInput } from './checks/send-as-check.js';
import { decideRelay, observeRelay } from './checks/relay-check.js';
import { decideGraphToken, graphRbacFrom, settleGraphToken, type GraphRbacView, type GraphTokenDecision } from './checks/graph-token-check.js';
import { decideGraphSend, observeGraphSend } from './checks/graph-send-check.js';
import { decideAutoRoute, type SmtpOutcome } from './checks/auto-route-check.js';
import { CHECK_IDS, OPTIONAL_CHECK_IDS, type CheckId, type CheckResult, type DoctorOptions, type DoctorReport } from './types.js';

/** Default cap of each network step (ms) when the caller gives no timeoutMs. */
export const DEFAULT_STEP_TIMEOUT_MS = 5_000;
/** Default cap of the token request (ms): Entra can be slower than a TCP connect. */
export const DEFAULT_TOKEN_TIMEOUT_MS = 10_000;

function skip(id: CheckId, reason: string): CheckResult {
  return { id, status: 'skip', summary: `Skipped: ${reason}` };
}

/** Checks the caller's options; throws MailgateError ARGUMENT_INVALID listing every problem. */
export function validateDoctorOptions(options: DoctorOptions): void {
  const problems: { key: string; message: string }[] = [];
  if (options.to !== undefined || options.from !== undefined) {
    try {
      validateMessage({ to: options.to === undefined ? ['doctor@example.com'] : [options.to], from: options.from, subject: 'x', text: 'x' });
    } catch (e) {
      if (e instanceof MailgateError && e.problems) problems.push(...e.problems.map((p) => ({ key: p.key.replace(/\[\d+\]$/, ''), message: p.message })));
      else throw e;
    }
  }
  const t = options.timeoutMs;
  if (t !== undefined && !(Number.isInteger(t) && t >= 50 && t <= 300_000)) {
    problems.push({ key: 'timeoutMs', message: 'timeout: must be a whole number of milliseconds between 50 and 300000' });
  }
  if (problems.length) {
    throw new MailgateError({ code: 'ARGUMENT_INVALID', phase: 'arguments', message: `Invalid doctor options: ${problems.map((p) => p.message).join('; ')}`, problems });
  }
}


/** The last line of defence: no secret, token or XOAUTH2 string in any text of the report. */
export function scrubReport(report: DoctorReport, secrets: string[]): DoctorReport {
  return scrubDeep(report, secrets.filter((s) => s.length >= 6)) as DoctorReport;
}

/** The time limits and SMTP session options of one run. */
interface Plan {
  stepMs: number;
  tokenMs: number;
  session: SessionOptions;
}

function plan(settings: EmailSettings, options: DoctorOptions): Plan {
  const stepMs = options.timeoutMs ?? Math.min(settings.connectionTimeoutMs, DEFAULT_STEP_TIMEOUT_MS);
  const greetingMs = options.timeoutMs ?? Math.min(settings.greetingTimeoutMs, DEFAULT_STEP_TIMEOUT_MS);
  return {
    stepMs,
    tokenMs: options.timeoutMs ?? DEFAULT_TOKEN_TIMEOUT_MS,
    session: {
      host: settings.smtpHost,
      port: settings.smtpPort,
      secure: settings.smtpPort === 465,
      ca: options.ca,
      connectionTimeoutMs: stepMs,
      greetingTimeoutMs: greetingMs,
      socketTimeoutMs: Math.min(settings.socketTimeoutMs, Math.max(3 * stepMs, 15_000)),
      clientName: options.clientName,
      pipelining: options.pipelining,
    },
  };
}

/** What one run carries from check to check. */
interface Run {
  settings: EmailSettings;
  options: DoctorOptions;
  plan: Plan;
  checks: CheckResult[];
  secrets: string[];
  /** The From of the test message. */
  from: string;
  ctx: DiagnosisContext;
  smtpReachable: boolean;
  authorityResolved: boolean;
  /** The Graph endpoint's host resolves (Transport graph or auto). */
  graphResolved: boolean;
  token?: Secret;
  /**
   * The settings later token requests use: the secondary alone after the primary was refused
   * with an answer the service fails over on and the secondary works (as delivery would).
   */
  tokenSettings?: EmailSettings;
  claims?: ClaimsDecision;
  /** What SMTP showed (Transport auto: the input of auto-route). */
  smtp?: SmtpOutcome;
}

/** dns, tcp, starttls. */
async function checkConnection(run: Run): Promise<void> {
  const { settings, checks, plan: p, ctx } = run;
  const lookups = await observeDns(settings, run.options.lookup ?? systemLookup, p.stepMs);
  checks.push(decideDns(lookups, ctx));
  run.authorityResolved = !lookups.some((l) => l.role === 'authority' && l.error);
  run.graphResolved = !lookups.some((l) => l.role === 'graph' && l.error);
  if (lookups.some((l) => l.role === 'smtp' && l.error)) {
    run.smtp = { ok: false, tcpCode: 'ENOTFOUND' };
    checks.push(skip('tcp', `SMTP Client Server ${settings.smtpHost} does not resolve (see dns).`));
    checks.push(skip('starttls', 'no connection to the SMTP server (see dns).'));
    return;
  }
  const tcp = decideTcp(await observeTcp(settings.smtpHost, settings.smtpPort, p.stepMs), ctx);
  checks.push(tcp);
  if (tcp.status === 'fail') {
    run.smtp = { ok: false, tcpCode: String(tcp.details?.errno ?? 'ERROR') };
    checks.push(skip('starttls', `no TCP connection to ${settings.smtpHost}:${settings.smtpPort} (see tcp).`));
    return;
  }
  const tls = await observeStarttls(p.session);
  const starttls = decideStarttls(tls, ctx, settings.useModernAuth ? 'xoauth2' : 'password');
  checks.push(starttls);
  // STARTTLS refused or the handshake failed: Automatic's table decides from that error.
  if (!tls.ok) run.smtp = { ok: false, error: tls.error };
  run.smtpReachable = starttls.status === 'pass' || starttls.status === 'warn';
}

/** token, token-claims; afterwards the context carries the token's oid and roles. */
async function checkToken(run: Run): Promise<void> {
  const { settings, checks } = run;
  if (!settings.useModernAuth) {
    checks.push(skip('token', 'modern authentication is off (Basic authentication uses no token).'));
    checks.push(skip('token-claims', 'modern authentication is off (Basic authentication uses no token).'));
    return;
  }
  if (!run.authorityResolved) {
    checks.push(skip('token', `the authority host ${settings.authorityHost} does not resolve (see dns).`));
    checks.push(skip('token-claims', 'no token (see dns).'));
    return;
  }
  const o = { ca: run.options.ca, timeoutMs: run.plan.tokenMs };
  // The primary and, when there is one, the secondary alone (issue 17), side by side.
  const [t, secondary] = await Promise.all([observeToken(settings, o), observeSecondary(settings, o)]);
  if (t.ok) run.secrets.push(t.token.reveal());
  let check = decideToken(t, settings, run.ctx);
  let token = t.ok ? t.token : undefined;
  if (secondary) {
    if (secondary.token.ok) run.secrets.push(secondary.token.token.reveal());
    const d = decideSecondary({ check, primary: t, primarySettings: settings, secondary, ctx: run.ctx, credential: run.options.credential });
    check = d.check;
    if (d.failover && secondary.token.ok) {
      token = secondary.token.token;
      run.tokenSettings = secondary.settings;
    }
  }
  checks.push(check);
  if (!token) {
    checks.push(skip('token-claims', 'no token was issued (see token).'));
    return;
  }
  run.token = token;
  run.claims = decideTokenClaims(decodeTokenClaims(token.reveal()), settings, run.ctx);
  checks.push(run.claims.check);
  run.ctx = contextFor(settings, { from: run.from, oid: run.claims.oid, roles: run.claims.roles });
}

/** Why smtp-auth cannot mean anything, or undefined when it can run. */
function smtpAuthBlocker(run: Run): string | undefined {
  if (!run.smtpReachable) return 'no secure connection to the SMTP server (see the checks above).';
  if (run.settings.useModernAuth && !run.token) return 'no access token (see token).';
  if (run.settings.useModernAuth && run.claims?.check.status === 'fail') return 'the token cannot work for SMTP (see token-claims).';
  return undefined;
}

/**
 * After a `535 5.7.3` with a right token, Exchange's configuration (when the caller gave a
 * source: the emulator) tells which Exchange-side step is missing. Never throws.
 */
async function lookAtExchange(run: Run, auth: SmtpAuthObservation & { ok: false }): Promise<(ExchangeSideView & { registered?: string[] }) | undefined> {
  const source = run.options.exchangeFacts;
  const oid = run.claims?.oid;
  const e = auth.error.smtp;
  if (!source || !oid || !run.claims?.good || e?.code !== 535 || e.enhanced !== '5.7.3' || auth.mode !== 'xoauth2') return undefined;
  const query = { clientId: run.settings.clientId!, authorizedFrom: run.settings.authorizedFrom };
  try {
    const facts = await source(query);
    // A shared mailbox as user=: the diagnosis names that trap (smtp-535-5.7.3-shared-mailbox).
    if (facts.mailbox?.type) run.ctx = { ...run.ctx, signInMailboxType: facts.mailbox.type };
    return {
      source: facts.source,
      finding: decideExchangeSide(facts, { ...query, oid }),
      registered: facts.servicePrincipals.map((sp) => sp.objectId),
    };
  } catch (err) {
    return { source: 'Exchange facts', error: err instanceof Error ? err.message : String(err) };
  }
}

/** smtp-auth, then send on the same session; the session is always closed. */
async function checkSignInAndSend(run: Run): Promise<void> {
  const { settings, checks, claims } = run;
  const blocker = smtpAuthBlocker(run);
  let auth: SmtpAuthObservation | undefined;
  try {
    if (blocker) checks.push(skip('smtp-auth', blocker));
    else {
      const creds = settings.useModernAuth
        ? { kind: 'xoauth2' as const, user: settings.authorizedFrom, token: run.token!.reveal() }
        : { kind: 'password' as const, user: settings.smtpUsername!, password: settings.smtpPassword! };
      auth = await observeSmtpAuth(run.plan.session, creds);
      const exchange = auth.ok ? undefined : await lookAtExchange(run, auth);
      checks.push(decideSmtpAuth(auth, run.ctx, claims ? { good: claims.good, roles: claims.roles } : undefined, exchange));
      run.smtp = auth.ok ? { ok: true } : { ok: false, error: auth.error, roles: claims?.roles };
      if (claims) checks[checks.indexOf(claims.check)] = settleRolesWarning(claims.check, auth.ok);
    }
    const to = run.options.to;
    if (to === undefined) checks.push(skip('send', 'no recipient given (--to) for a test message.'));
    else if (!auth?.ok) checks.push(skip('send', 'not signed in (see smtp-auth).'));
    else {
      const sent = await observeSend(auth.session, { to, from: run.from, defaultFrom: settings.authorizedFrom, smtpHost: settings.smtpHost });
      checks.push(decideSend(sent, run.ctx));
    }
  } finally {
    if (auth?.ok) auth.session.close();
  }
}

/** Exchange's "Application Mail.Send" assignments, when a source of facts was given. Never throws. */
async function graphRbac(run: Run, oid: string | undefined): Promise<GraphRbacView | undefined> {
  const source = run.options.exchangeFacts;
  if (!source || !run.settings.clientId) return undefined;
  try {
    return graphRbacFrom(await source({ clientId: run.settings.clientId, authorizedFrom: run.settings.authorizedFrom }), { oid, clientId: run.settings.clientId });
  } catch {
    return undefined;
  }
}

/**
 * graph-token, graph-send (Transport graph or auto): a token for the cloud's Graph scope with
 * Mail.Send, then a real sendMail through the Graph transport when a recipient is given.
 * Returns whether Graph works ('ok'), cannot ('fail'), or was not asked to send ('unknown').
 */
async function checkGraph(run: Run): Promise<'ok' | 'fail' | 'unknown'> {
  const { settings, checks } = run;
  if (!settings.useModernAuth) {
    checks.push(skip('graph-reach', 'modern authentication is off (Microsoft Graph accepts only OAuth2 tokens).'));
    checks.push(skip('graph-token', 'modern authentication is off (Microsoft Graph accepts only OAuth2 tokens).'));
    checks.push(skip('graph-send', 'modern authentication is off.'));
    return 'fail';
  }
  // The Graph endpoint itself: its name (dns) and a TCP connection to it. The token comes from
  // the authority host, so graph-token still runs; a test message cannot.
  const target = graphTarget(settings);
  let unreachable: string | undefined;
  if (!run.graphResolved) {
    unreachable = `the Microsoft Graph endpoint ${target.host} does not resolve (see dns).`;
    checks.push(skip('graph-reach', unreachable));
  } else {
    const reach = decideGraphReach(await observeTcp(target.host, target.port, run.plan.stepMs), settings);
    checks.push(reach);
    if (reach.status === 'fail') unreachable = `no TCP connection to the Microsoft Graph endpoint ${target.host}:${target.port} (see graph-reach).`;
  }
  if (!run.authorityResolved) {
    checks.push(skip('graph-token', `the authority host ${settings.authorityHost} does not resolve (see dns).`));
    checks.push(skip('graph-send', 'no token (see dns).'));
    return 'fail';
  }
  const o = { ca: run.options.ca, timeoutMs: run.plan.tokenMs };
  // After a failover (see token), Graph's token comes from the secondary too, as in delivery.
  let t: TokenObservation = await observeToken({ ...(run.tokenSettings ?? settings), scope: settings.graphScope }, o);
  if (t.ok) run.secrets.push(t.token.reveal());
  // Transport graph: `token` was skipped, so graph-token tests and reports the secondary.
  const secondary = settings.transport === 'graph' ? await observeSecondary(settings, o) : undefined;
  if (secondary?.token.ok) run.secrets.push(secondary.token.token.reveal());
  const primary = t;
  if (secondary?.token.ok && !t.ok && failoverDecision(t.error).switch) {
    t = await observeToken({ ...secondary.settings, scope: settings.graphScope }, o);
    if (t.ok) run.secrets.push(t.token.reveal());
  }
  const claims = t.ok ? decodeTokenClaims(t.token.reveal()) : undefined;
  const oid = typeof claims?.oid === 'string' ? claims.oid : run.claims?.oid;
  const rbac = t.ok ? await graphRbac(run, oid) : undefined;
  const ctx = contextFor(settings, { from: run.from, oid, roles: Array.isArray(claims?.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : undefined });
  const decision: GraphTokenDecision = decideGraphToken(t, claims, settings, { ...ctx, scope: settings.graphScope }, rbac);
  if (secondary) {
    decision.check = decideSecondary({ check: decision.check, primary, primarySettings: settings, secondary, ctx, credential: run.options.credential, decidedOnSecondary: primary !== t }).check;
  }
  checks.push(decision.check);
  const to = run.options.to;
  if (unreachable) {
    checks.push(skip('graph-send', unreachable));
    return 'fail';
  }
  if (!t.ok || !decision.usable) {
    checks.push(skip('graph-send', to === undefined ? 'no recipient given (--to) for a test message.' : 'no usable Graph token (see graph-token).'));
    return 'fail';
  }
  if (to === undefined) {
    checks.push(skip('graph-send', 'no recipient given (--to) for a test message.'));
    return decision.check.status === 'fail' ? 'fail' : 'unknown';
  }
  const sent = decideGraphSend(await observeGraphSend(settings, t.token, { to, from: run.from, ca: run.options.ca, timeoutMs: run.plan.stepMs }), ctx);
  checks.push(sent);
  if (decision.undecided) checks[checks.indexOf(decision.check)] = settleGraphToken(decision.check, sent.status === 'pass');
  return sent.status === 'pass' ? 'ok' : 'fail';
}

/** Exchange's configuration with the From's Send As trustees, for `send-as`. Never throws. */
async function sendAsFacts(run: Run): Promise<SendAsInput['facts']> {
  const source = run.options.exchangeFacts;
  if (!source || !run.settings.clientId) return undefined;
  try {
    const facts = await source({ clientId: run.settings.clientId, authorizedFrom: run.settings.authorizedFrom, from: run.from });
    return { source: facts.source, facts };
  } catch (err) {
    return { source: 'Exchange facts', error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * send-as (a Send As sender only): the From's side of the two grants, from the test message's
 * reply (SMTP `send` first, else `graph-send`) or Exchange's configuration.
 */
async function checkSendAs(run: Run): Promise<void> {
  const sent = ['send', 'graph-send'].map((id) => run.checks.find((c) => c.id === id)).find((c) => c && c.status !== 'skip')
    ?? run.checks.find((c) => c.id === 'send' || c.id === 'graph-send');
  const decisive = sent?.status === 'pass' || (sent?.status === 'fail' && SEND_AS_DENIED_RULES.has(String(sent.details?.diagnosis)));
  run.checks.push(decideSendAs({
    from: run.from, signInAs: run.settings.authorizedFrom, oid: run.claims?.oid, sent,
    facts: decisive ? undefined : await sendAsFacts(run),
  }, run.ctx));
}

/** The SMTP checks do not apply to Transport graph. */
function skipSmtp(run: Run): void {
  for (const id of ['tcp', 'starttls', 'token', 'token-claims', 'smtp-auth', 'send'] as const) {
    run.checks.push(skip(id, 'Transport is graph: messages go by Microsoft Graph, not SMTP.'));
  }
}

/** The report: missing checks skipped, in the fixed order, scrubbed of every secret. */
const ORDER: readonly CheckId[] = [...CHECK_IDS, ...OPTIONAL_CHECK_IDS];

function finish(checks: CheckResult[], secrets: string[]): DoctorReport {
  const seen = new Set(checks.map((c) => c.id));
  for (const id of CHECK_IDS) if (!seen.has(id)) checks.push(skip(id, 'an earlier check failed.'));
  checks.sort((a, b) => ORDER.indexOf(a.id) - ORDER.indexOf(b.id));
  return scrubReport({ ok: !checks.some((c) => c.status === 'fail'), checks }, secrets);
}

/**
 * Runs every check in order and returns the report. Invalid settings are reported by the
 * `settings` check (the rest is skipped); invalid options throw ARGUMENT_INVALID.
 *
 * @param input typed EmailSettings or raw values (strings from the environment, JSON from a store)
 * @example
 * const report = await runDoctor(settingsFromEnv(process.env).raw, { to: 'me@contoso.com' });
 * if (!report.ok) for (const c of report.checks) if (c.status === 'fail') console.log(c.id, c.fix, c.commands);
 */
export async function runDoctor(input: RawSettings | EmailSettings, options: DoctorOptions = {}): Promise<DoctorReport> {
  validateDoctorOptions(options);
  // EmailSettings parse like raw values (Secret values are unwrapped by parseSettings), so one
  // path serves both and the settings check always sees parseSettings' warnings.
  const raw = input as RawSettings;
  const secrets = secretValues(raw);
  const checks: CheckResult[] = [];
  // The relay does not depend on the Email Settings: probed alongside, whatever they say.
  const relay = options.relay
    ? observeRelay(options.relay, options.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS).then((o) => decideRelay(o, Date.now()))
    : undefined;

  const parsed = parseSettings(raw);
  const certificate = parsed.ok ? await observeCertificate(parsed.settings) : undefined;
  const secondaryCertificate = parsed.ok ? await observeSecondaryCertificate(parsed.settings) : undefined;
  const settingsCheck = decideSettings(parsed, certificate, Date.now(), {
    ...(secondaryCertificate ? { secondaryCertificate } : {}),
    ...(options.credential !== undefined ? { credential: options.credential } : {}),
  });
  checks.push(settingsCheck);
  if (settingsCheck.status === 'fail' || !parsed.ok) {
    for (const id of CHECK_IDS.slice(1)) checks.push(skip(id, 'the settings are invalid; fix them first.'));
    if (relay) checks.push(await relay);
    return finish(checks, secrets);
  }

  const settings = parsed.settings;
  const from = options.from ?? settings.authorizedFrom;
  const run: Run = {
    settings, options, plan: plan(settings, options), checks, secrets, from,
    ctx: contextFor(settings, { from }),
    smtpReachable: false,
    authorityResolved: false,
    graphResolved: false,
  };
  if (settings.transport === 'graph') {
    // DNS still shows whether the authority resolves (the Graph token needs it).
    const lookups = await observeDns(settings, options.lookup ?? systemLookup, run.plan.stepMs);
    checks.push(decideDns(lookups.filter((l) => l.role !== 'smtp'), run.ctx));
    run.authorityResolved = !lookups.some((l) => l.role === 'authority' && l.error);
    run.graphResolved = !lookups.some((l) => l.role === 'graph' && l.error);
    skipSmtp(run);
    await checkGraph(run);
  } else {
    await checkConnection(run);
    await checkToken(run);
    await checkSignInAndSend(run);
    if (settings.transport === 'auto') {
      const graph = await checkGraph(run);
      checks.push(decideAutoRoute(run.smtp ?? { ok: false }, graph).check);
    }
  }
  if (from.toLowerCase() !== settings.authorizedFrom.toLowerCase()) await checkSendAs(run);
  if (relay) checks.push(await relay);
  return finish(checks, secrets);
}
