/**
 * "Test and diagnostics" of one sender (issue 16 item 4), reached from its row on the Senders
 * tab: send a test message as that sender (its credential, its signed-in mailbox, its From,
 * `deps.sendTest(to, sender)`), or run the doctor with that sender's effective settings
 * (`deps.runDiagnostics({ sender })`: the Send As check runs when the From is not the signed-in
 * mailbox). The outcome blocks are the Test and Diagnostics pages' own.
 *
 * Why apart from those pages: they stay about the default sender (the Email Settings), as
 * before; a sender's own checks belong next to the sender.
 *
 * Routes (relative to /admin/senders/check):
 *   GET  /?address=     the page       POST /test    POST /diagnostics
 *
 * Imports: hono, src/core/errors, ../context, ../layout, ../html, ../form-controls, ../form-body,
 * ../recipient, ../test-email (outcome), ../diagnostics (report).
 */
import { Hono } from 'hono';
import { isMailgateError } from '../../core/errors.js';
import type { SenderEntry } from '../../service/settings/senders-service.js';
import type { Admin, AdminContext, AdminEnv } from '../context.js';
import { parseDoctorReport } from '../diagnostics/doctor-report.js';
import { reportBlock } from '../diagnostics/diagnostics-routes.js';
import { textControl } from '../form-controls.js';
import { lastString, type FormBody } from '../form-body.js';
import { html, type SafeHtml } from '../html.js';
import { csrfField, redirect, renderPage } from '../layout.js';
import { recipientProblem } from '../recipient.js';
import { outcomeBlock } from '../test-email/test-email-routes.js';

interface CheckState {
  testTo: string;
  testError?: string;
  diagTo: string;
  diagError?: string;
  result?: SafeHtml;
}

function page(a: Admin, c: AdminContext, s: SenderEntry, st: CheckState, status = 200): Response {
  const session = c.get('session');
  const sendAs = s.address !== s.signInAs;
  const body = html`<p class="lead">Sends as <strong>${s.address}</strong>, signed in as <strong>${s.signInAs}</strong>${sendAs ? ' (Send As)' : ''} with the credential <strong>${s.credential}</strong> over ${s.transport}. <a href="${a.url('/senders')}">Back to the senders</a>.</p>
${s.problems.length ? html`<div class="notice"><p>This sender's settings are incomplete:</p><ul>${s.problems.map((p) => html`<li>${p.message}</li>`)}</ul></div>` : ''}
<form method="post" action="${a.url('/senders/check/test')}" class="panel" novalidate data-busy-text="Sending…">
  ${csrfField(session)}<input type="hidden" name="address" value="${s.address}">
  <div class="inline-form">
  ${textControl({ id: 'sender-test-to', name: 'to', label: 'Send a test email to', type: 'email', inputmode: 'email', autocomplete: 'email', value: st.testTo, required: true, maxlength: 320, error: st.testError })}
  <button type="submit" class="button">Send test email</button>
  </div>
</form>
<form method="post" action="${a.url('/senders/check/diagnostics')}" class="panel" novalidate data-busy-text="Running diagnostics…">
  ${csrfField(session)}<input type="hidden" name="address" value="${s.address}">
  <div class="inline-form">
  ${textControl({ id: 'sender-diag-to', name: 'to', label: 'Also send a test message to (optional)', type: 'email', inputmode: 'email', autocomplete: 'email', value: st.diagTo, maxlength: 320, error: st.diagError })}
  <button type="submit" class="button"${a.deps.runDiagnostics ? '' : html` disabled`}>Run diagnostics</button>
  </div>
</form>
<section id="sender-check-result" class="result" aria-live="polite" aria-label="Outcome">${st.result ?? ''}</section>`;
  return renderPage(a, c, { title: `Test and diagnostics: ${s.address}`, active: 'senders', body, status });
}

export function senderCheckRoutes(a: Admin): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const find = (address: string | undefined) => (address ? a.deps.senders?.get(address.slice(0, 320)) : undefined);
  const missing = (c: AdminContext) => {
    const session = c.get('session');
    if (session) session.flash = { kind: 'error', text: 'There is no such sender.' };
    return redirect(c, a.url('/senders'));
  };

  app.get('/', (c) => {
    const s = find(c.req.query('address'));
    return s ? page(a, c, s, { testTo: '', diagTo: '' }) : missing(c);
  });

  app.post('/test', async (c) => {
    const form = (await c.req.parseBody({ all: true })) as FormBody;
    const s = find(lastString(form, 'address'));
    if (!s) return missing(c);
    const to = (lastString(form, 'to') ?? '').trim();
    const problem = recipientProblem(to, true);
    if (problem) return page(a, c, s, { testTo: to.slice(0, 320), testError: problem, diagTo: '' }, 422);
    const result = await a.deps.sendTest(to, s.address);
    a.deps.logger.info({ ok: result.ok, sender: s.address, code: result.ok ? undefined : result.error.code }, 'admin page: test email as a sender');
    return page(a, c, s, { testTo: to, diagTo: '', result: outcomeBlock(a, to, result) });
  });

  app.post('/diagnostics', async (c) => {
    const form = (await c.req.parseBody({ all: true })) as FormBody;
    const s = find(lastString(form, 'address'));
    if (!s) return missing(c);
    const to = (lastString(form, 'to') ?? '').trim();
    const problem = recipientProblem(to, false);
    if (problem) return page(a, c, s, { testTo: '', diagTo: to.slice(0, 320), diagError: problem }, 422);
    const run = a.deps.runDiagnostics;
    if (!run) return page(a, c, s, { testTo: '', diagTo: to }, 501);
    const fail = (text: string) => html`<div class="outcome outcome-fail" data-outcome="failure"><h2 tabindex="-1" data-focus>Diagnostics failed</h2><p>${text}</p></div>`;
    try {
      const report = parseDoctorReport(await run({ to: to || undefined, sender: s.address }));
      if (!report) return page(a, c, s, { testTo: '', diagTo: to, result: fail('The doctor returned a report this page cannot read.') }, 502);
      return page(a, c, s, { testTo: '', diagTo: to, result: reportBlock(report, to) });
    } catch (error) {
      if (isMailgateError(error) && error.problems?.length) return page(a, c, s, { testTo: '', diagTo: to, diagError: error.problems.map((p) => p.message).join(' ') }, 422);
      a.deps.logger.error({ err: error, sender: s.address }, 'admin page: diagnostics of a sender failed');
      return page(a, c, s, { testTo: '', diagTo: to, result: fail(error instanceof Error ? error.message : String(error)) }, 500);
    }
  });
  return app;
}
