/**
 * The "Senders" tab (issue 16 item 4): every sender (From, signed-in mailbox with Send As
 * marked, credential, transport, its last delivery's status, recipients in the last 24 hours
 * against its daily budget, where it is configured) and, separately, the credentials (one app
 * registration serves several senders). Stored senders and credentials are added, edited and
 * deleted here; the default sender and its credential link to the Email Settings (their form and
 * seed labels are unchanged); MAILGATE_CONFIG senders are read-only, like environment values.
 *
 * Why its own page over the same model as the API: every write goes through SendersService
 * (`putSender`, `deleteSender`, `putCredential`, `deleteCredential`), so the page validates with
 * the API's schema and refuses what the API refuses (a sender with queued messages, a moved
 * credential destination without its secret entered again), with the API's own explanation
 * shown next to the field it is about.
 *
 * Secrets are write-only: the secret and certificate fields are always rendered empty (never
 * echoed, also not after a failed submit) and an empty field keeps the stored value. Deleting
 * asks for confirmation first (the pattern of the relay clients page: without `confirmed=yes`
 * the server answers with a confirmation page).
 *
 * Routes (relative to /admin/senders):
 *   GET  /                          list + add forms
 *   GET  /sender?address=           edit a stored sender      POST /sender (create or update)
 *   POST /sender/delete             delete (confirm first)
 *   GET  /credential?name=          edit a stored credential  POST /credential (create or update)
 *   POST /credential/delete         delete (confirm first)
 *   /check                          a sender's Test and Diagnostics (./sender-check-routes.ts)
 *
 * Imports: hono, core/senders, core/settings, core/clouds, the service's senders-service types,
 * ../context, ../layout, ../html, ../form-controls, ../form-body, ../diagnosis-view.
 */
import { Hono } from 'hono';
import { CLOUD_IDS } from '../../core/clouds.js';
import { DEFAULT_CREDENTIAL } from '../../core/senders.js';
import { TRANSPORT_IDS } from '../../core/settings.js';
import type { CredentialView, SenderEntry, SendersService, SenderWriteResult } from '../../service/settings/senders-service.js';
import type { Admin, AdminContext, AdminEnv } from '../context.js';
import { timeTag } from '../diagnosis-view.js';
import { dateInputType, errorSummary, selectControl, textControl } from '../form-controls.js';
import { lastString, type FormBody } from '../form-body.js';
import { html, type SafeHtml } from '../html.js';
import { csrfField, redirect, renderPage } from '../layout.js';
import { panelId } from '../credentials/rotation-panel.js';
import { senderCheckRoutes } from './sender-check-routes.js';
import { rotationSection } from '../credentials/rotation-section.js';

const DAY_MS = 86_400_000;
/** Exchange Online's daily recipient limit per mailbox, the worker's default budget (service/delivery/recipient-budget.ts). */
const DEFAULT_DAILY_RECIPIENTS = 10_000;

type Problems = Record<string, string>;

interface SenderForm {
  address: string;
  signInAs: string;
  credential: string;
  transport: string;
  ratePerMinute: string;
  maxConnections: string;
  dailyRecipients: string;
}

interface CredentialForm {
  name: string;
  cloud: string;
  tenantId: string;
  clientId: string;
  clientSecretExpires: string;
  authorityHost: string;
  smtpHost: string;
  smtpPort: string;
  graphEndpoint: string;
}

const EMPTY_SENDER: SenderForm = { address: '', signInAs: '', credential: '', transport: '', ratePerMinute: '', maxConnections: '', dailyRecipients: '' };
const EMPTY_CREDENTIAL: CredentialForm = { name: '', cloud: 'global', tenantId: '', clientId: '', clientSecretExpires: '', authorityHost: '', smtpHost: '', smtpPort: '', graphEndpoint: '' };
const LIMITS = ['ratePerMinute', 'maxConnections', 'dailyRecipients'] as const;
const CRED_TEXT = ['tenantId', 'clientId', 'clientSecretExpires', 'authorityHost', 'smtpHost', 'graphEndpoint'] as const;

const field = (body: FormBody, name: string, max = 320) => (lastString(body, name) ?? '').trim().slice(0, max);

function senderFormFrom(body: FormBody): SenderForm {
  return {
    address: field(body, 'address'),
    signInAs: field(body, 'signInAs'),
    credential: field(body, 'credential', 64),
    transport: field(body, 'transport', 16),
    ratePerMinute: field(body, 'ratePerMinute', 12),
    maxConnections: field(body, 'maxConnections', 12),
    dailyRecipients: field(body, 'dailyRecipients', 12),
  };
}

function credentialFormFrom(body: FormBody): CredentialForm {
  return {
    name: field(body, 'name', 64),
    cloud: field(body, 'cloud', 16) || 'global',
    tenantId: field(body, 'tenantId', 256),
    clientId: field(body, 'clientId', 64),
    clientSecretExpires: field(body, 'clientSecretExpires', 40),
    authorityHost: field(body, 'authorityHost', 512),
    smtpHost: field(body, 'smtpHost', 256),
    smtpPort: field(body, 'smtpPort', 12),
    graphEndpoint: field(body, 'graphEndpoint', 512),
  };
}

/** A whole number from a form field: empty is "not set"; anything else that is not digits is a problem. */
function wholeNumber(text: string, key: string, problems: Problems): number | undefined {
  if (text === '') return undefined;
  if (!/^\d{1,9}$/.test(text)) {
    problems[key] = `${key}: must be a whole number`;
    return undefined;
  }
  return Number(text);
}

/** The API's JSON body for a sender form (empty optional fields omitted). */
function senderInput(f: SenderForm, problems: Problems): Record<string, unknown> {
  const input: Record<string, unknown> = { address: f.address, credential: f.credential };
  if (f.signInAs) input.signInAs = f.signInAs;
  if (f.transport) input.transport = f.transport;
  for (const k of LIMITS) {
    const n = wholeNumber(f[k], k, problems);
    if (n !== undefined) input[k] = n;
  }
  return input;
}

function credentialInput(f: CredentialForm, body: FormBody, problems: Problems): Record<string, unknown> {
  const input: Record<string, unknown> = { name: f.name, cloud: f.cloud };
  for (const k of CRED_TEXT) if (f[k]) input[k] = f[k];
  const port = wholeNumber(f.smtpPort, 'smtpPort', problems);
  if (port !== undefined) input.smtpPort = port;
  // Write-only: an empty field keeps the stored secret (the service decides whether that is allowed).
  const secret = (lastString(body, 'clientSecret') ?? '').slice(0, 1024);
  const cert = (lastString(body, 'clientCertificate') ?? '').slice(0, 65_536);
  if (secret.trim()) input.clientSecret = secret.trim();
  if (cert.trim()) input.clientCertificate = cert.trim();
  return input;
}

/** Each problem under its top-level key (`address`, `clientSecret`…); the first one per key. */
function problemsByKey(r: SenderWriteResult & { ok: false }): Problems {
  const out: Problems = {};
  for (const p of r.problems) {
    const key = p.key.split(/[.[]/)[0] || '_';
    out[key] ??= p.message;
  }
  return out;
}

function summary(problems: Problems, prefix: string, known: readonly string[]): SafeHtml {
  return errorSummary(Object.entries(problems).map(([k, message]) => (known.includes(k) ? { fieldId: `${prefix}-${k}`, message } : { message })));
}

// ---- the list ----

interface SenderStats {
  lastStatus?: string;
  lastAt?: number;
  recipients24h: number;
}

async function statsOf(a: Admin, s: SenderEntry): Promise<SenderStats> {
  const now = a.deps.now();
  const [page, recipients24h] = await Promise.all([a.deps.store.list({ sender: s.address, limit: 1 }), a.deps.store.recipientsSentSince(s.signInAs, now - DAY_MS)]);
  const last = page.items[0];
  return { recipients24h, ...(last ? { lastStatus: last.status, lastAt: last.updatedAt } : {}) };
}

const SOURCE_TEXT: Record<SenderEntry['source'], string> = { settings: 'Email Settings', stored: 'Stored', file: 'Configuration file' };

function senderRow(a: Admin, c: AdminContext, s: SenderEntry, st: SenderStats): SafeHtml {
  const budget = s.dailyRecipients ?? DEFAULT_DAILY_RECIPIENTS;
  const session = c.get('session');
  const sendAs = s.signInAs !== s.address;
  const action = s.source === 'stored'
    ? html`<a class="button button-secondary" href="${a.url(`/senders/sender?address=${encodeURIComponent(s.address)}`)}" aria-label="Edit ${s.address}">Edit</a>
      <form method="post" action="${a.url('/senders/sender/delete')}" class="inline" data-confirm="Delete the sender ${s.address}? Messages can no longer be sent as it.">${csrfField(session)}<input type="hidden" name="address" value="${s.address}"><button type="submit" class="button button-danger" aria-label="Delete ${s.address}…">Delete…</button></form>`
    : s.source === 'settings'
      ? html`<a href="${a.url('/settings')}">Email Settings</a>`
      : html`<span class="muted">Read-only (MAILGATE_CONFIG)</span>`;
  return html`<tr data-sender="${s.address}" data-source="${s.source}">
    <td data-label="From">${s.address}${s.isDefault ? html` <span class="badge">default</span>` : ''}${s.problems.length ? html`<br><span class="field-error">${s.problems[0]!.message}</span>` : ''}</td>
    <td data-label="Signs in as">${s.signInAs}${sendAs ? html` <span class="badge" data-send-as>Send As</span>` : ''}</td>
    <td data-label="Credential">${s.credential}</td>
    <td data-label="Transport">${s.transport}</td>
    <td data-label="Last delivery" data-last-status>${st.lastStatus ? html`<span class="badge badge-${st.lastStatus}">${st.lastStatus}</span> <span class="muted">${timeTag(st.lastAt)}</span>` : html`<span class="muted">None yet</span>`}</td>
    <td data-label="Recipients (24 h)" data-budget>${st.recipients24h} / ${budget}</td>
    <td data-label="Source">${SOURCE_TEXT[s.source]}</td>
    <td data-label="Action"><a href="${a.url(`/senders/check?address=${encodeURIComponent(s.address)}`)}" aria-label="Test and diagnostics of ${s.address}">Test, diagnostics</a> · <a href="${a.url(`/messages?sender=${encodeURIComponent(s.address)}`)}">Delivery log</a> ${action}</td>
  </tr>`;
}

function credentialRow(a: Admin, c: AdminContext, x: CredentialView): SafeHtml {
  const session = c.get('session');
  const rotate = a.deps.credentialRotation?.get(x.name) ? html` · <a href="${a.url(`/senders?rotate=${encodeURIComponent(x.name)}#${panelId(x.name)}`)}" aria-label="Rotate ${x.name}">Rotate</a>` : '';
  const secret = x.clientCertificateSet ? `Certificate${x.clientCertificateRef ? ` (${x.clientCertificateRef})` : ''}` : x.clientSecretSet ? `Client secret${x.clientSecretRef ? ` (${x.clientSecretRef})` : ' (set)'}` : 'None';
  const action = x.source === 'stored'
    ? html`<a class="button button-secondary" href="${a.url(`/senders/credential?name=${encodeURIComponent(x.name)}`)}" aria-label="Edit ${x.name}">Edit</a>
      <form method="post" action="${a.url('/senders/credential/delete')}" class="inline" data-confirm="Delete the credential ${x.name}?">${csrfField(session)}<input type="hidden" name="name" value="${x.name}"><button type="submit" class="button button-danger" aria-label="Delete ${x.name}…">Delete…</button></form>`
    : x.source === 'settings'
      ? html`<a href="${a.url('/settings')}">Email Settings</a>`
      : html`<span class="muted">Read-only (MAILGATE_CONFIG)</span>`;
  return html`<tr data-credential="${x.name}" data-source="${x.source}">
    <td data-label="Name">${x.name}${x.problems.length ? html`<br><span class="field-error">${x.problems[0]!.message}</span>` : ''}</td>
    <td data-label="Cloud">${x.cloud}</td>
    <td data-label="Tenant">${x.tenantId ?? ''}</td>
    <td data-label="Client ID"><code>${x.clientId ?? ''}</code></td>
    <td data-label="Secret">${secret}</td>
    <td data-label="Senders">${x.senders.length ? x.senders.join(', ') : html`<span class="muted">None</span>`}</td>
    <td data-label="Action">${action}${rotate}</td>
  </tr>`;
}

function senderFields(svc: SendersService, f: SenderForm, e: Problems, o: { editing: boolean; prefix: string }): SafeHtml {
  const p = o.prefix;
  const creds = svc.credentials().map((x) => ({ value: x.name, label: x.name === DEFAULT_CREDENTIAL ? `${x.name} (the Email Settings' app registration)` : x.name }));
  return html`${textControl({ id: `${p}-address`, name: 'address', label: 'From address', type: 'email', value: f.address, readonly: o.editing, required: true, maxlength: 320, spellcheck: false, hint: o.editing ? 'A sender\'s address cannot change; create a new sender instead.' : 'What the messages say in From, e.g. billing@contoso.com.', error: e.address })}
  ${textControl({ id: `${p}-signInAs`, name: 'signInAs', label: 'Signs in as (optional)', type: 'email', value: f.signInAs, maxlength: 320, spellcheck: false, hint: 'The mailbox in XOAUTH2 user=. Empty: the From address. A different mailbox sends by Send As (a shared mailbox cannot sign in itself).', error: e.signInAs })}
  ${selectControl({ id: `${p}-credential`, name: 'credential', label: 'Credential', value: f.credential, options: creds, error: e.credential })}
  ${selectControl({ id: `${p}-transport`, name: 'transport', label: 'Transport', value: f.transport, options: [{ value: '', label: 'As the credential\'s Email Settings (default SMTP)' }, ...TRANSPORT_IDS.map((t) => ({ value: t, label: t }))], error: e.transport })}
  ${textControl({ id: `${p}-ratePerMinute`, name: 'ratePerMinute', label: 'Messages per minute (optional)', inputmode: 'numeric', value: f.ratePerMinute, maxlength: 9, hint: 'Per signed-in mailbox; Exchange Online allows 30.', error: e.ratePerMinute })}
  ${textControl({ id: `${p}-maxConnections`, name: 'maxConnections', label: 'Connections (optional)', inputmode: 'numeric', value: f.maxConnections, maxlength: 1, hint: '1, 2 or 3.', error: e.maxConnections })}
  ${textControl({ id: `${p}-dailyRecipients`, name: 'dailyRecipients', label: 'Recipients per day (optional)', inputmode: 'numeric', value: f.dailyRecipients, maxlength: 9, hint: `Per signed-in mailbox; default ${DEFAULT_DAILY_RECIPIENTS}.`, error: e.dailyRecipients })}`;
}

function credentialFields(f: CredentialForm, e: Problems, o: { editing: boolean; prefix: string }): SafeHtml {
  const p = o.prefix;
  return html`${textControl({ id: `${p}-name`, name: 'name', label: 'Name', value: f.name, readonly: o.editing, required: true, maxlength: 64, spellcheck: false, autocomplete: 'off', hint: o.editing ? 'A credential\'s name cannot change.' : '1–64 letters, digits, dots, dashes or underscores; senders refer to it.', error: e.name })}
  ${selectControl({ id: `${p}-cloud`, name: 'cloud', label: 'Cloud', value: f.cloud, options: CLOUD_IDS.map((x) => ({ value: x, label: x })), error: e.cloud })}
  ${textControl({ id: `${p}-tenantId`, name: 'tenantId', label: 'Directory (tenant) ID', value: f.tenantId, maxlength: 256, spellcheck: false, autocomplete: 'off', error: e.tenantId })}
  ${textControl({ id: `${p}-clientId`, name: 'clientId', label: 'Application (client) ID', value: f.clientId, maxlength: 64, spellcheck: false, autocomplete: 'off', error: e.clientId })}
  ${textControl({ id: `${p}-clientSecret`, name: 'clientSecret', label: 'Client secret', type: 'password', value: '', autocomplete: 'new-password', maxlength: 1024, spellcheck: false, hint: o.editing ? 'Write-only: leave empty to keep the stored secret. Changing the cloud or an endpoint needs it entered again.' : 'Write-only: stored encrypted, never shown again. Or paste a certificate below.', error: e.clientSecret })}
  ${textControl({ id: `${p}-clientSecretExpires`, name: 'clientSecretExpires', label: 'Client Secret expires', type: dateInputType(f.clientSecretExpires), value: f.clientSecretExpires, maxlength: 40, spellcheck: false, autocomplete: 'off', hint: 'Optional: the date shown next to the secret in Entra\'s Certificates & secrets. Mailgate warns 30, 14, 7 and 1 days before.', error: e.clientSecretExpires })}
  ${textControl({ id: `${p}-clientCertificate`, name: 'clientCertificate', label: 'Certificate and private key (PEM, optional)', multiline: true, value: '', spellcheck: false, hint: 'Write-only, stored encrypted. Leave empty to keep the stored one.', error: e.clientCertificate })}
  <details class="more"><summary>Endpoints (optional)</summary>
  ${textControl({ id: `${p}-authorityHost`, name: 'authorityHost', label: 'Authority host', type: 'url', value: f.authorityHost, maxlength: 512, spellcheck: false, error: e.authorityHost })}
  ${textControl({ id: `${p}-smtpHost`, name: 'smtpHost', label: 'SMTP host', value: f.smtpHost, maxlength: 256, spellcheck: false, error: e.smtpHost })}
  ${textControl({ id: `${p}-smtpPort`, name: 'smtpPort', label: 'SMTP port', inputmode: 'numeric', value: f.smtpPort, maxlength: 5, error: e.smtpPort })}
  ${textControl({ id: `${p}-graphEndpoint`, name: 'graphEndpoint', label: 'Graph endpoint', type: 'url', value: f.graphEndpoint, maxlength: 512, spellcheck: false, error: e.graphEndpoint })}
  </details>`;
}

const SENDER_KEYS = ['address', 'signInAs', 'credential', 'transport', ...LIMITS];
const CRED_KEYS = ['name', 'cloud', 'tenantId', 'clientId', 'clientSecret', 'clientSecretExpires', 'clientCertificate', 'authorityHost', 'smtpHost', 'smtpPort', 'graphEndpoint'];

interface ListState {
  /** The credential whose Rotate panel is opened (?rotate=, where a rotation step returns to). */
  rotate?: string;
  sender?: { form: SenderForm; errors: Problems };
  credential?: { form: CredentialForm; errors: Problems };
}

function unavailable(a: Admin, c: AdminContext): Response {
  return renderPage(a, c, { title: 'Senders', active: 'senders', status: 501, body: html`<p class="notice">Several senders are not available in this service. <a href="${a.url('/settings')}">Go to the Email Settings</a>.</p>` });
}

async function listPage(a: Admin, c: AdminContext, svc: SendersService, s: ListState = {}, status = 200): Promise<Response> {
  const senders = svc.list();
  const stats = await Promise.all(senders.map((x) => statsOf(a, x)));
  const session = c.get('session');
  const sf = s.sender?.form ?? { ...EMPTY_SENDER, credential: svc.credentials()[0]?.name ?? '' };
  const se = s.sender?.errors ?? {};
  const cf = s.credential?.form ?? EMPTY_CREDENTIAL;
  const ce = s.credential?.errors ?? {};
  const body = html`<p class="lead">Each sender is a From address Mailgate may send as: the mailbox it signs in as (a different one sends by Send As), the app registration (credential) it signs in with, and its limits, which apply per signed-in mailbox. The default sender is the Email Settings; API clients choose another with <code>from</code>.</p>
${svc.fromFile ? html`<p class="notice" data-from-file>The senders and credentials are configured by the file named in <code>MAILGATE_CONFIG</code>: they are shown read-only here. Change them in the file.</p>` : ''}
<h2 id="senders-heading">Senders</h2>
${senders.length ? html`<div class="table-wrap"><table class="data stack" aria-labelledby="senders-heading">
  <thead><tr><th scope="col">From</th><th scope="col">Signs in as</th><th scope="col">Credential</th><th scope="col">Transport</th><th scope="col">Last delivery</th><th scope="col">Recipients (24 h) / budget</th><th scope="col">Source</th><th scope="col">Action</th></tr></thead>
  <tbody>${senders.map((x, i) => senderRow(a, c, x, stats[i]!))}</tbody></table></div>` : html`<p class="muted">No sender yet. <a href="${a.url('/settings')}">Complete the Email Settings</a>: they are the default sender.</p>`}
<h2 id="credentials-heading">Credentials</h2>
<p>An app registration in Microsoft Entra ID; several senders may share one (and its token). Secrets are write-only: they are never shown.</p>
<div class="table-wrap"><table class="data stack" aria-labelledby="credentials-heading">
  <thead><tr><th scope="col">Name</th><th scope="col">Cloud</th><th scope="col">Tenant</th><th scope="col">Client ID</th><th scope="col">Secret</th><th scope="col">Used by</th><th scope="col">Action</th></tr></thead>
  <tbody>${svc.credentials().map((x) => credentialRow(a, c, x))}</tbody></table></div>
${rotationSection(a, c, { open: s.rotate })}
${svc.fromFile ? summary({ ...se, ...ce }, 'x', []) : html`<h2 id="add-sender-heading">Add a sender</h2>
<form method="post" action="${a.url('/senders/sender')}" class="panel" novalidate aria-labelledby="add-sender-heading" data-add-sender>
  ${csrfField(session)}<input type="hidden" name="mode" value="create">
  ${summary(se, 'sender', SENDER_KEYS)}
  ${senderFields(svc, sf, se, { editing: false, prefix: 'sender' })}
  <div class="actions"><button type="submit" class="button">Add sender</button></div>
</form>
<h2 id="add-credential-heading">Add a credential</h2>
<form method="post" action="${a.url('/senders/credential')}" class="panel" novalidate aria-labelledby="add-credential-heading" data-add-credential>
  ${csrfField(session)}<input type="hidden" name="mode" value="create">
  ${summary(ce, 'credential', CRED_KEYS)}
  ${credentialFields(cf, ce, { editing: false, prefix: 'credential' })}
  <div class="actions"><button type="submit" class="button">Add credential</button></div>
</form>`}`;
  return renderPage(a, c, { title: 'Senders', active: 'senders', body, status });
}

function editSenderPage(a: Admin, c: AdminContext, svc: SendersService, f: SenderForm, e: Problems = {}, status = 200): Response {
  const body = html`<form method="post" action="${a.url('/senders/sender')}" class="panel" novalidate data-edit-sender="${f.address}">
  ${csrfField(c.get('session'))}<input type="hidden" name="mode" value="update">
  ${summary(e, 'edit-sender', SENDER_KEYS)}
  ${senderFields(svc, f, e, { editing: true, prefix: 'edit-sender' })}
  <div class="actions"><button type="submit" class="button">Save sender</button> <a class="button button-secondary" href="${a.url('/senders')}">Cancel</a></div>
</form>`;
  return renderPage(a, c, { title: `Sender ${f.address}`, active: 'senders', body, status });
}

function editCredentialPage(a: Admin, c: AdminContext, f: CredentialForm, e: Problems = {}, status = 200): Response {
  const body = html`<form method="post" action="${a.url('/senders/credential')}" class="panel" novalidate data-edit-credential="${f.name}">
  ${csrfField(c.get('session'))}<input type="hidden" name="mode" value="update">
  ${summary(e, 'edit-credential', CRED_KEYS)}
  ${credentialFields(f, e, { editing: true, prefix: 'edit-credential' })}
  <div class="actions"><button type="submit" class="button">Save credential</button> <a class="button button-secondary" href="${a.url('/senders')}">Cancel</a></div>
</form>`;
  return renderPage(a, c, { title: `Credential ${f.name}`, active: 'senders', body, status });
}

function confirmPage(a: Admin, c: AdminContext, what: 'sender' | 'credential', key: string, detail: SafeHtml): Response {
  const field = what === 'sender' ? 'address' : 'name';
  const body = html`<section class="panel" aria-labelledby="confirm-heading" data-confirm-delete="${key}">
  <h2 id="confirm-heading" tabindex="-1" data-focus>Delete the ${what} ${key}?</h2>
  ${detail}
  <form method="post" action="${a.url(`/senders/${what}/delete`)}" class="actions">
    ${csrfField(c.get('session'))}
    <input type="hidden" name="${field}" value="${key}">
    <input type="hidden" name="confirmed" value="yes">
    <button type="submit" class="button button-danger">Delete ${what}</button>
    <a class="button button-secondary" href="${a.url('/senders')}">Cancel</a>
  </form>
</section>`;
  return renderPage(a, c, { title: `Delete ${what}`, active: 'senders', body });
}

function flash(c: AdminContext, kind: 'success' | 'error', text: string): void {
  const session = c.get('session');
  if (session) session.flash = { kind, text };
}

export function sendersRoutes(a: Admin): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const svcOf = () => a.deps.senders;
  app.route('/check', senderCheckRoutes(a));

  app.get('/', async (c) => {
    const svc = svcOf();
    return svc ? listPage(a, c, svc, { rotate: c.req.query('rotate')?.slice(0, 64) }) : unavailable(a, c);
  });

  app.get('/sender', (c) => {
    const svc = svcOf();
    if (!svc) return unavailable(a, c);
    const s = svc.get(c.req.query('address') ?? '');
    if (!s || s.source !== 'stored') {
      flash(c, 'error', s ? `${s.address} is ${s.source === 'settings' ? 'the default sender: change it on the Email Settings' : 'configured by MAILGATE_CONFIG: change it in the file'}.` : 'There is no such sender.');
      return redirect(c, a.url('/senders'));
    }
    const n = (v: number | undefined) => (v === undefined ? '' : String(v));
    return editSenderPage(a, c, svc, { address: s.address, signInAs: s.signInAs === s.address ? '' : s.signInAs, credential: s.credential, transport: s.transport, ratePerMinute: n(s.ratePerMinute), maxConnections: n(s.maxConnections), dailyRecipients: n(s.dailyRecipients) });
  });

  app.post('/sender', async (c) => {
    const svc = svcOf();
    if (!svc) return unavailable(a, c);
    const body = (await c.req.parseBody({ all: true })) as FormBody;
    const create = lastString(body, 'mode') !== 'update';
    const form = senderFormFrom(body);
    const problems: Problems = {};
    const input = senderInput(form, problems);
    const r: SenderWriteResult = Object.keys(problems).length
      ? { ok: false, status: 422, problems: [] }
      : await svc.putSender(input, 'admin', create ? { create: true } : { create: false, address: form.address });
    if (r.ok) {
      flash(c, 'success', `Sender ${form.address.toLowerCase()} ${create ? 'added' : 'saved'}.`);
      return redirect(c, a.url('/senders'));
    }
    const errors = { ...problems, ...problemsByKey(r) };
    a.deps.logger.info({ address: form.address.slice(0, 320), status: r.status }, 'admin page: sender not saved');
    return create ? listPage(a, c, svc, { sender: { form, errors } }, r.status) : editSenderPage(a, c, svc, form, errors, r.status);
  });

  app.post('/sender/delete', async (c) => {
    const svc = svcOf();
    if (!svc) return unavailable(a, c);
    const body = (await c.req.parseBody({ all: true })) as FormBody;
    const address = field(body, 'address');
    const s = svc.get(address);
    if (!s || s.source !== 'stored') {
      flash(c, 'error', s ? `${s.address} cannot be deleted here (${s.source === 'settings' ? 'it is the default sender, the Email Settings' : 'it is configured by MAILGATE_CONFIG'}).` : 'There is no such sender.');
      return redirect(c, a.url('/senders'));
    }
    if (lastString(body, 'confirmed') !== 'yes') {
      return confirmPage(a, c, 'sender', s.address, html`<p>Messages can no longer be sent as ${s.address}. A sender with queued, retrying or sending messages is not deleted: fail them or let them be delivered first.</p>`);
    }
    const r = await svc.deleteSender(s.address, 'admin');
    flash(c, r.ok ? 'success' : 'error', r.ok ? `Sender ${s.address} deleted.` : `Sender ${s.address} was not deleted: ${r.problems.map((p) => p.message).join('; ')}`);
    return redirect(c, a.url('/senders'));
  });

  app.get('/credential', (c) => {
    const svc = svcOf();
    if (!svc) return unavailable(a, c);
    const name = (c.req.query('name') ?? '').toLowerCase();
    const x = svc.credentials().find((v) => v.name.toLowerCase() === name);
    if (!x || x.source !== 'stored') {
      flash(c, 'error', x ? `The credential ${x.name} is ${x.source === 'settings' ? 'the Email Settings\' one: change it there' : 'configured by MAILGATE_CONFIG: change it in the file'}.` : 'There is no such credential.');
      return redirect(c, a.url('/senders'));
    }
    return editCredentialPage(a, c, { name: x.name, cloud: x.cloud, tenantId: x.tenantId ?? '', clientId: x.clientId ?? '', clientSecretExpires: x.clientSecretExpires ?? '', authorityHost: x.authorityHost ?? '', smtpHost: x.smtpHost ?? '', smtpPort: x.smtpPort === undefined ? '' : String(x.smtpPort), graphEndpoint: x.graphEndpoint ?? '' });
  });

  app.post('/credential', async (c) => {
    const svc = svcOf();
    if (!svc) return unavailable(a, c);
    const body = (await c.req.parseBody({ all: true })) as FormBody;
    const create = lastString(body, 'mode') !== 'update';
    const form = credentialFormFrom(body);
    const problems: Problems = {};
    const input = credentialInput(form, body, problems);
    const r: SenderWriteResult = Object.keys(problems).length
      ? { ok: false, status: 422, problems: [] }
      : await svc.putCredential(input, 'admin', create ? { create: true } : { create: false, name: form.name });
    if (r.ok) {
      flash(c, 'success', `Credential ${form.name} ${create ? 'added' : 'saved'}.`);
      return redirect(c, a.url('/senders'));
    }
    const errors = { ...problems, ...problemsByKey(r) };
    // The secondary credential is not a field of this form: say where it is removed.
    if (errors.secondary) errors.secondary += ' On this admin page: "Remove the secondary…" in the credential\'s Rotate panel on the Senders tab.';
    a.deps.logger.info({ credential: form.name, status: r.status }, 'admin page: credential not saved');
    return create ? listPage(a, c, svc, { credential: { form, errors } }, r.status) : editCredentialPage(a, c, form, errors, r.status);
  });

  app.post('/credential/delete', async (c) => {
    const svc = svcOf();
    if (!svc) return unavailable(a, c);
    const body = (await c.req.parseBody({ all: true })) as FormBody;
    const name = field(body, 'name', 64);
    const x = svc.credentials().find((v) => v.name.toLowerCase() === name.toLowerCase());
    if (!x || x.source !== 'stored') {
      flash(c, 'error', x ? `The credential ${x.name} cannot be deleted here.` : 'There is no such credential.');
      return redirect(c, a.url('/senders'));
    }
    if (lastString(body, 'confirmed') !== 'yes') {
      return confirmPage(a, c, 'credential', x.name, html`<p>Its stored secret is deleted with it. A credential that senders still use is not deleted.</p>`);
    }
    const r = await svc.deleteCredential(x.name, 'admin');
    flash(c, r.ok ? 'success' : 'error', r.ok ? `Credential ${x.name} deleted.` : `Credential ${x.name} was not deleted: ${r.problems.map((p) => p.message).join('; ')}`);
    return redirect(c, a.url('/senders'));
  });
  return app;
}
