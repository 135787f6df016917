/**
 * The Test page: "Send test email" to a recipient, with the outcome shown in place — success
 * with the server's reply, or failure with the diagnosis and the fix commands.
 *
 * Why: after saving the settings an administrator's next question is "does it work?"; the
 * peers answer "see the server log". Here the answer is on the page. The message is sent now
 * through a fresh mailer built from the saved settings (`deps.sendTest`), outside the queue.
 * Without JavaScript the form posts and the page comes back with the outcome below the form;
 * with it, the form is sent with fetch and only the form and the outcome region are replaced
 * (the region is `aria-live`, so the outcome is announced). Each test that was sent (or tried)
 * is also in the Delivery log, marked as a test (the service records it: ../../service/delivery/send-test.ts).
 *
 * Imports: hono, ../context, ../layout, ../html, ../form-controls, ../diagnosis-view,
 * ../recipient, service types.
 */
import { Hono } from 'hono';
import type { SendTestResult } from '../../service/intake/http/deps.js';
import type { Admin, AdminContext, AdminEnv } from '../context.js';
import { diagnosisBlock } from '../diagnosis-view.js';
import { textControl } from '../form-controls.js';
import { html, type SafeHtml } from '../html.js';
import { csrfField, renderPage } from '../layout.js';
import { recipientProblem } from '../recipient.js';
import { lastString, type FormBody } from '../form-body.js';

/** The outcome of a test email (also the Senders page's per-sender Test). */
export function outcomeBlock(a: Admin, to: string, r: SendTestResult): SafeHtml {
  if (r.ok) {
    return html`<div class="outcome outcome-ok" data-outcome="success">
  <h2 tabindex="-1" data-focus>Test email sent</h2>
  <p>The message to <strong>${to}</strong> was accepted. The server replied:</p>
  <pre class="reply" data-reply>${r.response}</pre>
  <p class="muted">Message-ID <code>${r.messageId}</code></p>
  ${r.id ? html`<p><a href="${a.url(`/messages/${r.id}`)}">See it in the Delivery log</a> (marked as a test).</p>` : ''}
</div>`;
  }
  const e = r.error;
  return html`<div class="outcome outcome-fail" data-outcome="failure">
  <h2 tabindex="-1" data-focus>Test email failed</h2>
  <p>${e.message}</p>
  ${e.reply ? html`<p>The server replied:</p><pre class="reply" data-reply>${e.reply}</pre>` : ''}
  <p class="muted">Error <code>${e.code}</code> while ${phaseText(e.phase)}.</p>
  ${e.problems?.length ? html`<ul>${e.problems.map((p) => html`<li>${p.message}</li>`)}</ul><p><a href="${a.url('/settings')}">Fix the Email Settings</a></p>` : ''}
  ${e.diagnosis ? diagnosisBlock(e.diagnosis, 'test') : ''}
  ${r.id ? html`<p><a href="${a.url(`/messages/${r.id}`)}">See it in the Delivery log</a> (marked as a test; it can be retried from there once the cause is fixed).</p>` : ''}
</div>`;
}

const PHASES: Record<string, string> = {
  settings: 'checking the settings',
  arguments: 'checking the message',
  token: 'getting an access token from Microsoft Entra ID',
  connect: 'connecting to the SMTP server',
  tls: 'starting TLS',
  auth: 'signing in to the SMTP server',
  send: 'sending the message',
};
const phaseText = (phase: string) => PHASES[phase] ?? phase;

interface PageState {
  to: string;
  error?: string;
  outcome?: SafeHtml;
}

function page(a: Admin, c: AdminContext, s: PageState, status = 200): Response {
  const settings = a.deps.settings.settings();
  const via = settings
    ? html`<p class="lead">Sends one message now, outside the queue, from <strong>${settings.authorizedFrom}</strong> through <code>${settings.smtpHost}:${settings.smtpPort}</code> with ${settings.useModernAuth ? 'modern authentication (OAuth2)' : 'Basic authentication'}, using the saved settings.</p>`
    : html`<p class="notice">The Email Settings are incomplete, so a test email cannot be sent yet. <a href="${a.url('/settings')}">Complete the Email Settings</a> first.</p>`;
  const body = html`${via}
<form method="post" action="${a.url('/test')}" id="test-form" class="panel" novalidate data-enhance="test-form test-result" data-busy-text="Sending…">
  ${csrfField(c.get('session'))}
  <div class="inline-form">
  ${textControl({ id: 'test-to', name: 'to', label: 'Recipient', type: 'email', inputmode: 'email', autocomplete: 'email', value: s.to, required: true, maxlength: 320, error: s.error, hint: 'Any mailbox you can read.' })}
  <button type="submit" class="button">Send test email</button>
  </div>
</form>
<section id="test-result" class="result" aria-live="polite" aria-label="Test email outcome">${s.outcome ?? ''}</section>`;
  return renderPage(a, c, { title: 'Test', active: 'test', body, status });
}

export function testEmailRoutes(a: Admin): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get('/', (c) => page(a, c, { to: '' }));
  app.post('/', async (c) => {
    const form = (await c.req.parseBody({ all: true })) as FormBody;
    const to = (lastString(form, 'to') ?? '').trim();
    const problem = recipientProblem(to, true);
    if (problem) return page(a, c, { to: to.slice(0, 320), error: problem }, 422);
    const result = await a.deps.sendTest(to);
    a.deps.logger.info({ ok: result.ok, code: result.ok ? undefined : result.error.code }, 'admin page: test email');
    return page(a, c, { to, outcome: outcomeBlock(a, to, result) });
  });
  return app;
}
