/**
 * The API keys page: list (name, scope, prefix, created, last used; revoked keys with when),
 * create (the key is shown once, on the response to the create form, and never again), revoke
 * after a confirmation.
 *
 * Revoking cuts an application off at once and cannot be undone, so it is confirmed: the
 * "Revoke…" button posts without `confirmed`, and the server answers with a confirmation page
 * (the key, what happens, "Revoke key" and "Cancel"); only a post with `confirmed=yes` revokes.
 * With the script, the browser's confirm dialog asks first and then posts `confirmed=yes` —
 * one step fewer, same rule. "Last used" is exact to within a few seconds (api-keys.ts).
 *
 * Why: applications need a key to submit mail, and an administrator who suspects a leak must
 * be able to cut it off without a shell on the server. Only the hash is stored (api-keys.ts);
 * the page shows the first characters (the prefix) so a key can be recognised. Each change is
 * audited by the service's key functions (actor `admin`).
 *
 * Imports: hono, the service's api-keys module and store types, ../context, ../layout,
 * ../html, ../form-controls, ../diagnosis-view.
 */
import { Hono } from 'hono';
import { API_KEY_SCOPES, ApiKeyError, createApiKey, revokeApiKey } from '../../service/access/api-keys.js';
import type { ApiKeyRecord, ApiKeyScope } from '../../service/outbox/store.js';
import type { Admin, AdminContext, AdminEnv } from '../context.js';
import { commandBlock, timeTag } from '../diagnosis-view.js';
import { selectControl, textControl } from '../form-controls.js';
import { html, type SafeHtml } from '../html.js';
import { csrfField, redirect, renderPage } from '../layout.js';
import { lastString, type FormBody } from '../form-body.js';

const SCOPE_TEXT: Record<ApiKeyScope, string> = {
  send: 'send — submit messages and read their status',
  admin: 'admin — everything, including settings, retries and diagnostics',
};

interface PageState {
  name: string;
  scope: ApiKeyScope;
  errors?: { name?: string; scope?: string };
  created?: { name: string; scope: ApiKeyScope; key: string };
}

const whenUsed = (k: ApiKeyRecord): SafeHtml => (k.lastUsedAt === undefined ? html`<span class="muted">Never</span>` : timeTag(k.lastUsedAt));

async function page(a: Admin, c: AdminContext, s: PageState, status = 200): Promise<Response> {
  const keys = await a.deps.store.listApiKeys();
  const active = keys.filter((k) => k.revokedAt === undefined);
  const revoked = keys.filter((k) => k.revokedAt !== undefined);
  const session = c.get('session');
  const activeRow = (k: ApiKeyRecord) => html`<tr data-key="${k.name}">
    <td data-label="Name">${k.name}</td>
    <td data-label="Scope">${k.scope}</td>
    <td data-label="Starts with"><code>${k.prefix}…</code></td>
    <td data-label="Created">${timeTag(k.createdAt)}</td>
    <td data-label="Last used" data-last-used>${whenUsed(k)}</td>
    <td data-label="Action"><form method="post" action="${a.url('/api-keys/revoke')}" data-confirm="Revoke the API key &quot;${k.name}&quot;? Applications using it get 401 at once. This cannot be undone.">${csrfField(session)}<input type="hidden" name="name" value="${k.name}"><button type="submit" class="button button-danger" aria-label="Revoke ${k.name}…">Revoke…</button></form></td>
  </tr>`;
  const revokedRow = (k: ApiKeyRecord) => html`<tr data-key="${k.name}">
    <td data-label="Name">${k.name}</td>
    <td data-label="Scope">${k.scope}</td>
    <td data-label="Starts with"><code>${k.prefix}…</code></td>
    <td data-label="Created">${timeTag(k.createdAt)}</td>
    <td data-label="Last used">${whenUsed(k)}</td>
    <td data-label="Revoked on">${timeTag(k.revokedAt)}</td>
  </tr>`;
  const table = (list: ApiKeyRecord[], caption: string, last: string, row: (k: ApiKeyRecord) => SafeHtml): SafeHtml => html`<div class="table-wrap"><table class="data stack">
  <caption class="visually-hidden">${caption}</caption>
  <thead><tr><th scope="col">Name</th><th scope="col">Scope</th><th scope="col">Starts with</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">${last}</th></tr></thead>
  <tbody>${list.map(row)}</tbody></table></div>`;

  const body = html`${s.created ? html`<section class="outcome outcome-ok new-key" aria-labelledby="new-key-heading" data-new-key>
  <h2 id="new-key-heading" tabindex="-1" data-focus>API key "${s.created.name}" created</h2>
  <p><strong>Copy it now: it is shown only this once.</strong> Only its hash is stored. Applications send it as <code>Authorization: Bearer &lt;key&gt;</code>.</p>
  ${commandBlock('new-api-key', s.created.key)}
</section>` : ''}
<p class="lead">Applications authenticate to the HTTP API with an API key. Scope <em>send</em> is enough to submit mail.</p>
<h2>Active keys</h2>
${active.length ? table(active, 'Active API keys', 'Action', activeRow) : html`<p class="muted">No active API keys.</p>`}
<h2>Create a key</h2>
<form method="post" action="${a.url('/api-keys')}" class="panel" novalidate>
  ${csrfField(session)}
  ${textControl({ id: 'key-name', name: 'name', label: 'Name', value: s.name, maxlength: 64, autocomplete: 'off', spellcheck: false, hint: '1–64 letters, digits, dots, dashes or underscores, e.g. the application\'s name.', error: s.errors?.name })}
  ${selectControl({ id: 'key-scope', name: 'scope', label: 'Scope', value: s.scope, options: API_KEY_SCOPES.map((v) => ({ value: v, label: SCOPE_TEXT[v] })), error: s.errors?.scope })}
  <div class="actions"><button type="submit" class="button">Create API key</button></div>
</form>
${revoked.length ? html`<details class="more"><summary>Revoked keys (${revoked.length})</summary>${table(revoked, 'Revoked API keys', 'Revoked on', revokedRow)}</details>` : ''}`;
  return renderPage(a, c, { title: 'API keys', active: 'api-keys', body, status });
}

/** "Revoke this key?": the step that makes revoking deliberate without JavaScript. */
function confirmPage(a: Admin, c: AdminContext, k: ApiKeyRecord): Response {
  const body = html`<section class="panel" aria-labelledby="confirm-heading" data-confirm-revoke="${k.name}">
  <h2 id="confirm-heading" tabindex="-1" data-focus>Revoke the API key "${k.name}"?</h2>
  <dl class="facts"><dt>Scope</dt><dd>${k.scope}</dd><dt>Starts with</dt><dd><code>${k.prefix}…</code></dd><dt>Created</dt><dd>${timeTag(k.createdAt)}</dd><dt>Last used</dt><dd>${whenUsed(k)}</dd></dl>
  <p>Applications that use this key are refused (401) from now on. This cannot be undone: to let them send again, create a new key and give it to them.</p>
  <form method="post" action="${a.url('/api-keys/revoke')}" class="actions">
    ${csrfField(c.get('session'))}
    <input type="hidden" name="name" value="${k.name}">
    <input type="hidden" name="confirmed" value="yes">
    <button type="submit" class="button button-danger">Revoke key</button>
    <a class="button button-secondary" href="${a.url('/api-keys')}">Cancel</a>
  </form>
</section>`;
  return renderPage(a, c, { title: 'Revoke API key', active: 'api-keys', body });
}

export function apiKeysRoutes(a: Admin): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get('/', (c) => page(a, c, { name: '', scope: 'send' }));

  app.post('/', async (c) => {
    const form = (await c.req.parseBody({ all: true })) as FormBody;
    const name = (lastString(form, 'name') ?? '').trim();
    const scopeText = lastString(form, 'scope') ?? '';
    const errors: { name?: string; scope?: string } = {};
    if (!name) errors.name = 'Enter a name for the key.';
    const scope = (API_KEY_SCOPES as readonly string[]).includes(scopeText) ? (scopeText as ApiKeyScope) : undefined;
    if (!scope) errors.scope = 'Choose send or admin.';
    if (errors.name || errors.scope || !scope) return page(a, c, { name: name.slice(0, 64), scope: scope ?? 'send', errors }, 422);
    try {
      const created = await createApiKey(a.deps.store, name, scope, { now: a.deps.now(), actor: 'admin' });
      return page(a, c, { name: '', scope: 'send', created }, 201);
    } catch (error) {
      if (error instanceof ApiKeyError) return page(a, c, { name: name.slice(0, 64), scope, errors: { name: error.message } }, 422);
      throw error;
    }
  });

  app.post('/revoke', async (c) => {
    const form = (await c.req.parseBody({ all: true })) as FormBody;
    const name = (lastString(form, 'name') ?? '').trim();
    const session = c.get('session');
    const key = name ? (await a.deps.store.listApiKeys()).find((k) => k.name === name && k.revokedAt === undefined) : undefined;
    if (!key) {
      if (session) session.flash = { kind: 'error', text: 'No active API key has that name.' };
      return redirect(c, a.url('/api-keys'));
    }
    if (lastString(form, 'confirmed') !== 'yes') return confirmPage(a, c, key);
    const done = await revokeApiKey(a.deps.store, name, { now: a.deps.now(), actor: 'admin' });
    if (session) session.flash = done ? { kind: 'success', text: `API key "${name.slice(0, 64)}" revoked.` } : { kind: 'error', text: 'No active API key has that name.' };
    return redirect(c, a.url('/api-keys'));
  });
  return app;
}
