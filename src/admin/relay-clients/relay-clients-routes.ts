/**
 * The "Relay clients" page: the printers, scanners and applications that send through the SMTP
 * relay (issue 14). List (name, username, how it authenticates, may send as, connects from,
 * messages sent/failed, last used; revoked clients with when), create (the generated username
 * and password are shown once, on the answer to the create form, never again), revoke after a
 * confirmation.
 *
 * The pattern of the API keys page: revoking cuts a device off (its next SMTP command is
 * refused) and cannot be undone, so the "Revoke…" button posts without `confirmed`, the server
 * answers with a confirmation page, and only `confirmed=yes` revokes (the script's confirm
 * dialog does the same in one step). The rules live in service/access/relay-clients.ts; its
 * errors are shown next to the field they are about.
 *
 * Safe choice where the issue is silent: the page does not offer `--force` (a no-auth client
 * for a public network is an open relay for that network); the error says to use the CLI with
 * --force when that is really wanted.
 *
 * Imports: hono, the service's relay-clients module, ../context, ../layout, ../html,
 * ../form-controls, ../diagnosis-view, ../form-body.
 */
import { Hono } from 'hono';
import { createRelayClient, listRelayClients, RelayClientError, revokeRelayClient, type CreatedRelayClient, type RelayClient, type RelayClientErrorCode } from '../../service/access/relay-clients.js';
import type { Admin, AdminContext, AdminEnv } from '../context.js';
import { commandBlock, timeTag } from '../diagnosis-view.js';
import { checkboxControl, selectControl, textControl } from '../form-controls.js';
import { html, type SafeHtml } from '../html.js';
import { csrfField, redirect, renderPage } from '../layout.js';
import { lastString, type FormBody } from '../form-body.js';

type Field = 'name' | 'allowFrom' | 'allowIp' | 'fromPolicy';

interface FormState {
  name: string;
  allowFrom: string;
  allowIp: string;
  noAuth: boolean;
  fromPolicy: 'reject' | 'rewrite';
}

interface PageState {
  form: FormState;
  errors?: Partial<Record<Field, string>>;
  created?: CreatedRelayClient;
}

const EMPTY: FormState = { name: '', allowFrom: '', allowIp: '', noAuth: false, fromPolicy: 'reject' };

const FIELD: Record<RelayClientErrorCode, Field> = {
  'invalid-name': 'name',
  exists: 'name',
  'invalid-address': 'allowFrom',
  'invalid-cidr': 'allowIp',
  'no-auth-needs-ip': 'allowIp',
  'public-cidr': 'allowIp',
  'invalid-policy': 'fromPolicy',
};

/** One address or network per line (commas and spaces also separate). */
const splitList = (text: string): string[] => text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);

const whenUsed = (c: RelayClient): SafeHtml => (c.lastUsedAt === undefined ? html`<span class="muted">Never</span>` : timeTag(c.lastUsedAt));
const mayUse = (c: RelayClient): SafeHtml => (c.allowFrom.length ? html`${c.allowFrom.map((a, i) => html`${i ? html`<br>` : ''}${a}`)}` : html`<span class="muted">Any sender Mailgate may use</span>`);
const from = (c: RelayClient): SafeHtml => (c.allowIp.length ? html`${c.allowIp.map((a, i) => html`${i ? html`<br>` : ''}<code>${a}</code>`)}` : html`<span class="muted">Anywhere</span>`);
const authText = (c: RelayClient): string => (c.noAuth ? 'Address only' : 'Password');

async function page(a: Admin, c: AdminContext, s: PageState, status = 200): Promise<Response> {
  const clients = await listRelayClients(a.deps.store);
  const active = clients.filter((x) => x.revokedAt === undefined);
  const revoked = clients.filter((x) => x.revokedAt !== undefined);
  const session = c.get('session');
  const cells = (x: RelayClient) => html`<td data-label="Name">${x.name}</td>
    <td data-label="Username"><code>${x.username}</code></td>
    <td data-label="Sign-in">${authText(x)}</td>
    <td data-label="Sends as">${mayUse(x)}</td>
    <td data-label="Networks">${from(x)}</td>
    <td data-label="Sent" data-sent>${x.messagesSent}</td>
    <td data-label="Failed" data-failed>${x.messagesFailed}</td>
    <td data-label="Last used" data-last-used>${whenUsed(x)}</td>`;
  const activeRow = (x: RelayClient) => html`<tr data-relay-client="${x.name}">${cells(x)}
    <td data-label="Action"><form method="post" action="${a.url('/relay-clients/revoke')}" data-confirm="Revoke the relay client &quot;${x.name}&quot;? The device is refused from its next SMTP command on. This cannot be undone.">${csrfField(session)}<input type="hidden" name="name" value="${x.name}"><button type="submit" class="button button-danger" aria-label="Revoke ${x.name}…">Revoke…</button></form></td>
  </tr>`;
  const revokedRow = (x: RelayClient) => html`<tr data-relay-client="${x.name}">${cells(x)}<td data-label="Revoked on">${timeTag(x.revokedAt)}</td></tr>`;
  const table = (list: RelayClient[], caption: string, last: string, row: (x: RelayClient) => SafeHtml): SafeHtml => html`<div class="table-wrap"><table class="data stack">
  <caption class="visually-hidden">${caption}</caption>
  <thead><tr><th scope="col">Name</th><th scope="col">Username</th><th scope="col">Authentication</th><th scope="col">May send as</th><th scope="col">Connects from</th><th scope="col">Sent</th><th scope="col">Failed</th><th scope="col">Last used</th><th scope="col">${last}</th></tr></thead>
  <tbody>${list.map(row)}</tbody></table></div>`;

  const created = s.created;
  const createdSection = !created ? '' : created.password === null
    ? html`<section class="outcome outcome-ok" aria-labelledby="new-client-heading" data-new-relay-client>
  <h2 id="new-client-heading" tabindex="-1" data-focus>Relay client "${created.name}" created</h2>
  <p>It sends without a username or password and is recognised by its address only (${created.allowIp.join(', ')}). In the device, enter the relay's server and port and leave authentication off.</p>
</section>`
    : html`<section class="outcome outcome-ok new-key" aria-labelledby="new-client-heading" data-new-relay-client>
  <h2 id="new-client-heading" tabindex="-1" data-focus>Relay client "${created.name}" created</h2>
  <p><strong>Copy the password now: it is shown only this once.</strong> Only a verifier of it is stored. Enter both in the device's SMTP settings (security STARTTLS or SSL/TLS, authentication on).</p>
  <dl class="facts"><dt>Username</dt><dd>${commandBlock('new-relay-username', created.username)}</dd><dt>Password</dt><dd>${commandBlock('new-relay-password', created.password)}</dd></dl>
</section>`;

  const f = s.form;
  const e = s.errors ?? {};
  const body = html`${createdSection}
<p class="lead">Printers, scanners and applications that can only send with SMTP and a password send to Mailgate's SMTP relay; Mailgate delivers their mail to Microsoft 365 with OAuth2. Each device gets its own client, so it can be revoked alone and its messages counted.</p>
<h2>Active relay clients</h2>
${active.length ? table(active, 'Active relay clients', 'Action', activeRow) : html`<p class="muted">No active relay clients.</p>`}
<h2>Create a relay client</h2>
<form method="post" action="${a.url('/relay-clients')}" class="panel" novalidate>
  ${csrfField(session)}
  ${textControl({ id: 'relay-name', name: 'name', label: 'Name', value: f.name, maxlength: 64, autocomplete: 'off', spellcheck: false, hint: '1–64 letters, digits, dots, dashes or underscores, e.g. the device: scanner-2nd-floor.', error: e.name })}
  ${textControl({ id: 'relay-allow-from', name: 'allowFrom', label: 'May send as (optional)', value: f.allowFrom, multiline: true, spellcheck: false, hint: 'One address per line, among the addresses Mailgate may send as. Empty: any of them.', error: e.allowFrom })}
  ${textControl({ id: 'relay-allow-ip', name: 'allowIp', label: 'Connects from (optional)', value: f.allowIp, multiline: true, spellcheck: false, hint: 'One address or network per line, e.g. 192.168.1.20 or 192.168.1.0/24. Empty: anywhere (with its password).', error: e.allowIp })}
  ${checkboxControl({ id: 'relay-no-auth', name: 'noAuth', label: 'The device cannot authenticate (recognise it by its address only)', checked: f.noAuth, value: 'yes', hint: 'Needs at least one private address or network above. Anyone on that network can then send as the allowed addresses.' })}
  ${selectControl({ id: 'relay-from-policy', name: 'fromPolicy', label: 'A From address it may not use', value: f.fromPolicy, options: [{ value: 'reject', label: 'Refuse the message (550)' }, { value: 'rewrite', label: 'Rewrite From to its first allowed address (original in Reply-To)' }], error: e.fromPolicy })}
  <div class="actions"><button type="submit" class="button">Create relay client</button></div>
</form>
${revoked.length ? html`<details class="more"><summary>Revoked relay clients (${revoked.length})</summary>${table(revoked, 'Revoked relay clients', 'Revoked on', revokedRow)}</details>` : ''}`;
  return renderPage(a, c, { title: 'Relay clients', active: 'relay-clients', body, status });
}

/** "Revoke this relay client?": the step that makes revoking deliberate without JavaScript. */
function confirmPage(a: Admin, c: AdminContext, x: RelayClient): Response {
  const body = html`<section class="panel" aria-labelledby="confirm-heading" data-confirm-revoke="${x.name}">
  <h2 id="confirm-heading" tabindex="-1" data-focus>Revoke the relay client "${x.name}"?</h2>
  <dl class="facts"><dt>Username</dt><dd><code>${x.username}</code></dd><dt>Authentication</dt><dd>${authText(x)}</dd><dt>Messages sent</dt><dd>${x.messagesSent}</dd><dt>Messages failed</dt><dd>${x.messagesFailed}</dd><dt>Last used</dt><dd>${whenUsed(x)}</dd></dl>
  <p>The device is refused from its next SMTP command on, also on a connection that is already open. Messages it already handed over are still delivered. This cannot be undone: to let it send again, create a new client and enter its password in the device.</p>
  <form method="post" action="${a.url('/relay-clients/revoke')}" class="actions">
    ${csrfField(c.get('session'))}
    <input type="hidden" name="name" value="${x.name}">
    <input type="hidden" name="confirmed" value="yes">
    <button type="submit" class="button button-danger">Revoke relay client</button>
    <a class="button button-secondary" href="${a.url('/relay-clients')}">Cancel</a>
  </form>
</section>`;
  return renderPage(a, c, { title: 'Revoke relay client', active: 'relay-clients', body });
}

export function relayClientsRoutes(a: Admin): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get('/', (c) => page(a, c, { form: EMPTY }));

  app.post('/', async (c) => {
    const body = (await c.req.parseBody({ all: true })) as FormBody;
    const policy = lastString(body, 'fromPolicy') ?? 'reject';
    const form: FormState = {
      name: (lastString(body, 'name') ?? '').trim().slice(0, 64),
      allowFrom: (lastString(body, 'allowFrom') ?? '').slice(0, 8_000),
      allowIp: (lastString(body, 'allowIp') ?? '').slice(0, 4_000),
      noAuth: lastString(body, 'noAuth') === 'yes',
      fromPolicy: policy === 'rewrite' ? 'rewrite' : 'reject',
    };
    if (!form.name) return page(a, c, { form, errors: { name: 'Enter a name for the relay client.' } }, 422);
    if (policy !== 'reject' && policy !== 'rewrite') return page(a, c, { form, errors: { fromPolicy: 'Choose refuse or rewrite.' } }, 422);
    try {
      const created = await createRelayClient(
        a.deps.store,
        { name: form.name, allowFrom: splitList(form.allowFrom), allowIp: splitList(form.allowIp), noAuth: form.noAuth, fromPolicy: form.fromPolicy },
        { now: a.deps.now(), actor: 'admin' },
      );
      const r = await page(a, c, { form: EMPTY, created }, 201);
      r.headers.set('cache-control', 'no-store');
      return r;
    } catch (error) {
      if (!(error instanceof RelayClientError)) throw error;
      const message = error.code === 'public-cidr' ? `${error.message} (The admin page does not do that: use mailgate relay-client create with --force.)` : error.message;
      return page(a, c, { form, errors: { [FIELD[error.code]]: message } }, 422);
    }
  });

  app.post('/revoke', async (c) => {
    const form = (await c.req.parseBody({ all: true })) as FormBody;
    const name = (lastString(form, 'name') ?? '').trim();
    const session = c.get('session');
    const client = name ? (await listRelayClients(a.deps.store)).find((x) => x.name === name && x.revokedAt === undefined) : undefined;
    if (!client) {
      if (session) session.flash = { kind: 'error', text: 'No active relay client has that name.' };
      return redirect(c, a.url('/relay-clients'));
    }
    if (lastString(form, 'confirmed') !== 'yes') return confirmPage(a, c, client);
    const done = await revokeRelayClient(a.deps.store, name, { now: a.deps.now(), actor: 'admin' });
    if (session) session.flash = done ? { kind: 'success', text: `Relay client "${name.slice(0, 64)}" revoked.` } : { kind: 'error', text: 'No active relay client has that name.' };
    return redirect(c, a.url('/relay-clients'));
  });
  return app;
}
