/**
 * The Diagnostics page: "Run diagnostics" runs the doctor (`deps.runDiagnostics`, the same
 * checks and JSON as `mailgate doctor --json`) and shows its checks as a step list — pass,
 * fail, warn or skip, each failure with its fix and copyable commands — plus a link to download
 * the Exchange Online set-up PowerShell script for the saved settings.
 *
 * Why: the usual failure (`535 5.7.3` because New-ServicePrincipal was never run, or run with
 * the wrong object id) is invisible from the SMTP reply alone. The doctor reads the token's
 * `oid` — the Enterprise Application's object id, the value New-ServicePrincipal needs — and
 * its commands carry it; the script link carries it too once a run has found it.
 *
 * Imports: hono, src/core/errors, src/doctor (setup script), ../context, ../layout, ../html,
 * ../form-controls, ../diagnosis-view, ../recipient, ./doctor-report.
 */
import { Hono } from 'hono';
import { isMailgateError } from '../../core/errors.js';
import type { CheckResult, DoctorReport } from '../../doctor/index.js';
import type { Admin, AdminContext, AdminEnv } from '../context.js';
import { commandList, safeLink } from '../diagnosis-view.js';
import { textControl } from '../form-controls.js';
import { html, type SafeHtml } from '../html.js';
import { csrfField, renderPage } from '../layout.js';
import { recipientProblem } from '../recipient.js';
import { lastString, type FormBody } from '../form-body.js';
import { CHECK_TITLES, parseDoctorReport, servicePrincipalObjectId } from './doctor-report.js';
import { setupScriptResponse } from './setup-script-route.js';

const STATUS_TEXT = { pass: 'Pass', fail: 'Fail', warn: 'Warning', skip: 'Skipped' } as const;

function detailValue(v: unknown): SafeHtml {
  if (typeof v === 'string') return /^https?:\/\//.test(v) ? safeLink(v) : html`${v}`;
  if (typeof v === 'number' || typeof v === 'boolean') return html`${String(v)}`;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return html`${v.join(', ')}`;
  return html`<code>${JSON.stringify(v)}</code>`;
}

/**
 * What a check says on this page where the doctor speaks to a command line: the test message
 * step, skipped because the form gave no recipient, names the form field, not the CLI's `--to`.
 */
function pageSummary(check: CheckResult, to: string): string {
  if (check.id === 'send' && check.status === 'skip' && !to) {
    return 'No test message was sent: no recipient was given in "Also send a test message to".';
  }
  return check.summary;
}

function stepItem(check: CheckResult, to: string): SafeHtml {
  const { causes, docs, ...rest } = check.details ?? {};
  const causeList = Array.isArray(causes) ? causes.filter((x): x is string => typeof x === 'string') : [];
  const docList = Array.isArray(docs) ? docs.filter((x): x is string => typeof x === 'string') : [];
  const facts = Object.entries(rest).filter(([, v]) => v !== undefined && v !== null && v !== '');
  const failing = check.status === 'fail' || check.status === 'warn';
  return html`<li class="step step-${check.status}" data-check="${check.id}" data-status="${check.status}">
  <div class="step-head"><span class="badge badge-${check.status}">${STATUS_TEXT[check.status]}</span><h3>${CHECK_TITLES[check.id] ?? check.id}</h3></div>
  <p>${pageSummary(check, to)}</p>
  ${failing && causeList.length ? html`<h4>Likely causes</h4><ul>${causeList.map((x) => html`<li>${x}</li>`)}</ul>` : ''}
  ${check.fix ? html`<div class="fix"><h4>How to fix it</h4>${check.fix.split('\n').filter((l) => l.trim()).map((l) => html`<p>${l}</p>`)}</div>` : ''}
  ${check.commands?.length ? html`<h4>Commands</h4>${commandList(`check-${check.id}`, check.commands)}` : ''}
  ${failing && docList.length ? html`<h4>Microsoft documentation</h4><ul>${docList.map((u) => html`<li>${safeLink(u)}</li>`)}</ul>` : ''}
  ${facts.length ? html`<details class="more"><summary>Details</summary><dl class="facts">${facts.map(([k, v]) => html`<dt>${k}</dt><dd>${detailValue(v)}</dd>`)}</dl></details>` : ''}
</li>`;
}

/** A doctor report as a step list (also the Senders page's per-sender Diagnostics). */
export function reportBlock(report: DoctorReport, to: string): SafeHtml {
  const failed = report.checks.filter((c) => c.status === 'fail').length;
  const warned = report.checks.filter((c) => c.status === 'warn').length;
  const title = failed
    ? `${failed} of ${report.checks.length} checks failed`
    : warned
      ? `No check failed; ${warned} warning${warned > 1 ? 's' : ''}`
      : 'All checks passed';
  return html`<div class="outcome ${failed ? 'outcome-fail' : 'outcome-ok'}" data-outcome="${failed ? 'failure' : 'success'}">
  <h2 tabindex="-1" data-focus>${title}</h2>
  <p>The steps run in order; a step is skipped when an earlier failure makes it meaningless.</p>
</div>
<ol class="steps">${report.checks.map((check) => stepItem(check, to))}</ol>`;
}

function scriptSection(a: Admin, oid: string | undefined): SafeHtml {
  const href = a.url(`/diagnostics/setup-script.ps1${oid ? `?oid=${oid}` : ''}`);
  return html`<h2>Exchange Online set-up script</h2>
<p>A commented PowerShell script with every step for the saved settings: the SMTP.SendAsApp permission, <code>New-ServicePrincipal</code>, <code>Add-MailboxPermission</code> (or RBAC for Applications), SMTP AUTH for the mailbox, and the checks.</p>
<p>${oid
    ? html`It uses the service principal object id <code>${oid}</code> from the access token's <code>oid</code> claim (the Enterprise Application's object id, not the App Registration's).`
    : html`Run diagnostics first to fill in the service principal's object id from the access token; otherwise the script has a placeholder for it.`}</p>
<p><a class="button button-secondary" href="${href}" download="mailgate-setup.ps1">Download the setup PowerShell script</a></p>`;
}

/** The router's reason ids (core/transport-routing.ts) in words. */
const ROUTE_REASONS: Record<string, string> = {
  preferred: 'SMTP is preferred while it works',
  reprobe: 'SMTP is being tried again after a while on Microsoft Graph',
  'smtp-auth-disabled': 'SMTP AUTH is disabled for the tenant or the mailbox (535 5.7.139)',
  'smtp-basic-auth-disabled': 'Basic authentication was refused (550 5.7.30)',
  'smtp-unreachable': 'the SMTP server could not be reached',
  'token-without-smtp-sendasapp': 'the token carries Mail.Send but not SMTP.SendAsApp',
  'graph-access-denied': 'Microsoft Graph denied access (ErrorAccessDenied)',
  'graph-mailbox-not-enabled': 'the mailbox is not enabled for Microsoft Graph (MailboxNotEnabledForRESTAPI)',
};

/** Transport auto: where Automatic sends now, why and since when (the same facts as /readyz for admins). */
function routeSection(a: Admin): SafeHtml | '' {
  if (a.deps.settings.settings()?.transport !== 'auto') return '';
  const r = a.deps.transportRoute?.();
  if (!r) {
    return html`<section id="transport-route" class="panel"><h2>Automatic routing</h2><p data-route="none">No message has been sent since the service started: the next one tries SMTP first (preferred) and moves to Microsoft Graph only when SMTP refuses for a reason Graph does not share.</p></section>`;
  }
  const moves = Object.entries(r.switches);
  return html`<section id="transport-route" class="panel"><h2>Automatic routing</h2>
<p data-route="${r.transport}">Messages go by <strong>${r.transport === 'graph' ? 'Microsoft Graph' : 'SMTP'}</strong> since <time datetime="${new Date(r.since).toISOString()}">${new Date(r.since).toISOString()}</time>, because ${ROUTE_REASONS[r.reason] ?? r.reason} (<code>${r.reason}</code>).</p>
${moves.length ? html`<p>Moves so far: ${moves.map(([k, n], i) => html`${i ? ', ' : ''}<code>${k}</code> × ${n}`)}</p>` : ''}</section>`;
}

interface PageState {
  to: string;
  error?: string;
  result?: SafeHtml;
  oid?: string;
}

function page(a: Admin, c: AdminContext, s: PageState, status = 200): Response {
  const available = !!a.deps.runDiagnostics;
  const body = html`<p class="lead">Checks every step in order — settings, DNS, TCP, STARTTLS, access token, token claims, SMTP AUTH, and optionally a test message — and explains each failure with the exact fix. The same checks as <code>mailgate doctor</code>.</p>
${available ? '' : html`<p class="notice">Diagnostics are not available in this service (no doctor is wired in). Run <code>mailgate doctor</code> on the server instead.</p>`}
<form method="post" action="${a.url('/diagnostics')}" id="diag-form" class="panel" novalidate data-enhance="diag-form diag-result setup-script" data-busy-text="Running diagnostics…">
  ${csrfField(c.get('session'))}
  <div class="inline-form">
  ${textControl({ id: 'diag-to', name: 'to', label: 'Also send a test message to (optional)', type: 'email', inputmode: 'email', autocomplete: 'email', value: s.to, maxlength: 320, error: s.error })}
  <button type="submit" class="button"${available ? '' : html` disabled`}>Run diagnostics</button>
  </div>
</form>
<section id="diag-result" class="result" aria-live="polite" aria-label="Diagnostics result">${s.result ?? ''}</section>
${routeSection(a)}
<section id="setup-script" class="panel">${scriptSection(a, s.oid)}</section>`;
  return renderPage(a, c, { title: 'Diagnostics', active: 'diagnostics', body, status });
}

export function diagnosticsRoutes(a: Admin): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get('/', (c) => page(a, c, { to: '' }));

  app.post('/', async (c) => {
    const form = (await c.req.parseBody({ all: true })) as FormBody;
    const to = (lastString(form, 'to') ?? '').trim();
    const problem = recipientProblem(to, false);
    if (problem) return page(a, c, { to: to.slice(0, 320), error: problem }, 422);
    const run = a.deps.runDiagnostics;
    if (!run) return page(a, c, { to }, 501);
    try {
      const report = parseDoctorReport(await run({ to: to || undefined }));
      if (!report) {
        return page(a, c, { to, result: html`<div class="outcome outcome-fail" data-outcome="failure"><h2 tabindex="-1" data-focus>Diagnostics failed</h2><p>The doctor returned a report this page cannot read.</p></div>` }, 502);
      }
      return page(a, c, { to, result: reportBlock(report, to), oid: servicePrincipalObjectId(report) });
    } catch (error) {
      if (isMailgateError(error) && error.problems?.length) {
        return page(a, c, { to, error: error.problems.map((p) => p.message).join(' ') }, 422);
      }
      a.deps.logger.error({ err: error }, 'admin page: diagnostics failed');
      return page(a, c, { to, result: html`<div class="outcome outcome-fail" data-outcome="failure"><h2 tabindex="-1" data-focus>Diagnostics failed</h2><p>${error instanceof Error ? error.message : String(error)}</p></div>` }, 500);
    }
  });

  app.get('/setup-script.ps1', (c) => setupScriptResponse(a, c));
  return app;
}
