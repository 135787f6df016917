/**
 * The admin page's credential rotation flow (issue 17 item 3), through the real admin app with
 * sessions and CSRF, against a small in-memory stand-in for the rotation service (the page's
 * own routes; the real service is driven in ./credential-rotation-browser.test.ts): the Rotate
 * panels on the Senders tab and the Email Settings page, each step's redirect and flash, the
 * guided order (Make primary disabled until a test passed; force and remove confirmed first),
 * a failed test shown with its fixes, refusals explained, forms without the CSRF token refused,
 * hostile names and summaries escaped, secrets never echoed, read-only credentials without
 * forms; and "Client Secret expires" on the credential form and the Email Settings form.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createAdminApp } from '../../src/admin/index.js';
import { MailgateError } from '../../src/core/errors.js';
import { CredentialNotFoundError, type CredentialRotation, type CredentialRotationView, type CredentialSlotView } from '../../src/service/settings/credential-rotation-service.js';
import { appClient, startAdmin, type AdminClient, type AdminCtx } from './helpers.js';

const CLIENT = '3cc0b6a1-1111-4222-8333-444455556666';
const NEW_SECRET = 'Rot~new-secret-value_0123456789abcdef';
const HOSTILE = '<script>alert("x")</script>';

interface Call { op: string; name: string; arg?: unknown }

/** A stand-in with the service's rules in miniature: one secondary at a time, promote after a passing test (or force). */
class FakeRotation implements CredentialRotation {
  views = new Map<string, CredentialRotationView>();
  calls: Call[] = [];
  nextTest: { ok: boolean; code?: string; summary?: string; fixes?: string[] } = { ok: true, summary: 'Entra issued a token.' };
  #clock = Date.parse('2026-12-04T05:00:00Z');

  reset(): void {
    this.calls = [];
    this.nextTest = { ok: true, summary: 'Entra issued a token.' };
    this.views = new Map();
    const slot = (o: Partial<CredentialSlotView> = {}): CredentialSlotView => ({ kind: 'secret', expires: '2027-01-31', hint: 'Qx9', addedAt: '2026-01-01T00:00:00Z', ...o });
    this.views.set('default', { name: 'default', source: 'settings', readOnly: false, primary: slot(), secondary: null, active: 'primary' });
    this.views.set('fabrikam', { name: 'fabrikam', source: 'stored', readOnly: false, primary: slot({ hint: 'Fab' }), secondary: null, active: 'primary' });
    this.views.set('filecred', { name: 'filecred', source: 'file', readOnly: true, primary: slot({ kind: 'certificate', thumbprint: 'AB'.repeat(20), hint: undefined }), secondary: null, active: 'primary' });
    this.views.set(HOSTILE, { name: HOSTILE, source: 'stored', readOnly: false, primary: slot({ lastTest: { at: '2026-12-01T00:00:00Z', ok: false, code: 'AADSTS7000215', summary: '<img src=x onerror=alert(1)>' } }), secondary: null, active: 'primary', failover: { at: '2026-12-02T00:00:00Z', code: '<b>7000222</b>' } });
  }

  #must(name: string): CredentialRotationView {
    const v = this.views.get(name);
    if (!v) throw new CredentialNotFoundError(`No credential named "${name}"`);
    if (v.readOnly) throw new MailgateError({ code: 'CREDENTIAL_READ_ONLY', phase: 'settings', message: `credential "${name}" is read-only` });
    return v;
  }

  list(): CredentialRotationView[] {
    return [...this.views.values()];
  }
  get(name: string): CredentialRotationView | undefined {
    return this.views.get(name);
  }
  async addSecondary(name: string, input: { clientSecret?: string; clientCertificate?: string; clientSecretExpires?: string }, actor: string): Promise<CredentialRotationView> {
    this.calls.push({ op: 'add', name, arg: { ...input, actor } });
    const v = this.#must(name);
    if (v.secondary) throw new MailgateError({ code: 'ROTATION_STEP_INVALID', phase: 'settings', message: `${name} has a secondary already: remove it first` });
    if (input.clientSecretExpires && !/^\d{4}-\d{2}-\d{2}/.test(input.clientSecretExpires)) {
      throw new MailgateError({ code: 'SETTINGS_INVALID', phase: 'settings', message: 'invalid', problems: [{ key: 'clientSecretExpires', message: 'clientSecretExpires: must be a date such as 2027-06-01' }] });
    }
    v.secondary = { kind: input.clientCertificate ? 'certificate' : 'secret', hint: input.clientSecret?.slice(0, 3), expires: input.clientSecretExpires, addedAt: new Date((this.#clock += 1000)).toISOString() };
    return v;
  }
  async test(name: string, slot: 'primary' | 'secondary', actor: string) {
    this.calls.push({ op: 'test', name, arg: { slot, actor } });
    // As the real service: a test changes nothing, so a read-only credential may be tested.
    const v = this.views.get(name);
    if (!v) throw new CredentialNotFoundError(`No credential named "${name}"`);
    const s = v[slot];
    if (!s) throw new MailgateError({ code: 'ROTATION_STEP_INVALID', phase: 'settings', message: `${name} has no ${slot}: add one first` });
    s.lastTest = { at: new Date(this.#clock).toISOString(), ok: this.nextTest.ok, code: this.nextTest.code, summary: this.nextTest.summary };
    return this.nextTest;
  }
  async promote(name: string, actor: string, options?: { force?: boolean }): Promise<CredentialRotationView> {
    this.calls.push({ op: 'promote', name, arg: { actor, ...options } });
    const v = this.#must(name);
    if (!v.secondary) throw new MailgateError({ code: 'ROTATION_STEP_INVALID', phase: 'settings', message: `${name} has no secondary to make primary` });
    if (!options?.force && !v.secondary.lastTest?.ok) throw new MailgateError({ code: 'ROTATION_STEP_INVALID', phase: 'settings', message: `Test the secondary of ${name} first (or force it).` });
    [v.primary, v.secondary] = [v.secondary, v.primary];
    return v;
  }
  async removeSecondary(name: string, actor: string): Promise<CredentialRotationView> {
    this.calls.push({ op: 'remove', name, arg: { actor } });
    const v = this.#must(name);
    v.secondary = null;
    return v;
  }
}

/** The panel of one credential in a page. */
function panel(text: string, name: string): string {
  const re = new RegExp(`<section class="panel rotation" id="rotate-${name}"[\\s\\S]*?</section>`);
  return re.exec(text)?.[0] ?? '';
}

describe('admin page: credential rotation', () => {
  let ctx: AdminCtx;
  let client: AdminClient;
  const fake = new FakeRotation();
  before(async () => {
    fake.reset();
    ctx = await startAdmin({
      env: { MAILGATE_CLIENT_ID: CLIENT, MAILGATE_TENANT_ID: 'contoso.onmicrosoft.com', MAILGATE_CLIENT_SECRET: 'rotation-page-default-secret', MAILGATE_AUTHORIZED_FROM: 'noreply@contoso.com' },
      service: { admin: (deps) => createAdminApp({ ...deps, credentialRotation: fake }, { clientAddress: () => '192.0.2.10' }) },
    });
    client = appClient(ctx);
    assert.equal((await client.login()).status, 303);
  });
  after(async () => {
    await ctx.stop();
  });
  beforeEach(() => fake.reset());

  it('shows a Rotate panel per credential on the Senders tab: both slots, which one is in use, the first step', async () => {
    const r = await client.get('/admin/senders');
    assert.equal(r.status, 200);
    assert.match(r.text, /<h2 id="rotate-heading">Rotate credentials<\/h2>/);
    const p = panel(r.text, 'fabrikam');
    assert.ok(p, 'the panel of fabrikam');
    assert.match(p, /<tr data-slot="primary" data-active>[\s\S]*?Client secret[\s\S]*?2027-01-31[\s\S]*?<code>Fab<\/code>[\s\S]*?in use/);
    assert.match(p, /<tr data-slot="secondary" data-empty>/);
    assert.match(p, /<li class="step step-current" data-step="add" aria-current="step">/);
    assert.match(p, /<form method="post" action="\/admin\/rotation\/secondary"[\s\S]*?name="_csrf" value="[^"]+"[\s\S]*?name="back" value="senders"/);
    assert.match(p, /<label for="rotate-fabrikam-clientSecretExpires">Client Secret expires<\/label>/);
    assert.match(p, /<input type="date" id="rotate-fabrikam-clientSecretExpires" name="clientSecretExpires"/);
    assert.doesNotMatch(p, /action="\/admin\/rotation\/promote"/, 'no Make primary form before a secondary exists');
    // The credential row links to its panel (opened by ?rotate=).
    assert.match(r.text, /<a href="\/admin\/senders\?rotate=default#rotate-default" aria-label="Rotate default">Rotate<\/a>/);
  });

  it('refuses every step without the CSRF token and changes nothing', async () => {
    await client.get('/admin/senders');
    for (const [path, form] of [['/admin/rotation/secondary', { name: 'fabrikam', clientSecret: NEW_SECRET }], ['/admin/rotation/test', { name: 'fabrikam' }], ['/admin/rotation/promote', { name: 'fabrikam', force: 'yes', confirmed: 'yes' }], ['/admin/rotation/remove', { name: 'fabrikam', confirmed: 'yes' }]] as const) {
      assert.equal((await client.post(path, form, { csrf: false })).status, 403, path);
      assert.equal((await client.post(path, form, { csrf: 'forged-token' })).status, 403, path);
    }
    assert.deepEqual(fake.calls, []);
  });

  it('refuses a step form over 64 KB before reading it (413)', async () => {
    await client.get('/admin/senders');
    const big = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(70_000)}\n-----END CERTIFICATE-----`;
    const r = await client.post('/admin/rotation/secondary', { name: 'fabrikam', back: 'senders', clientCertificate: big });
    assert.equal(r.status, 413);
    assert.deepEqual(fake.calls, []);
  });

  it('takes the whole rotation step by step: add → test → make primary → remove the old one, each a redirect with a flash', async () => {
    await client.get('/admin/senders');
    // 1. Add the new secret as secondary.
    const add = await client.post('/admin/rotation/secondary', { name: 'fabrikam', back: 'senders', clientSecret: NEW_SECRET, clientSecretExpires: '2028-12-31' });
    assert.equal(add.status, 303);
    assert.equal(add.location, '/admin/senders?rotate=fabrikam#rotate-fabrikam');
    assert.deepEqual(fake.calls.at(-1), { op: 'add', name: 'fabrikam', arg: { clientSecret: NEW_SECRET, clientSecretExpires: '2028-12-31', actor: 'admin' } });
    let page = await client.get(add.location!);
    assert.match(page.text, /The new secret of fabrikam was added as the secondary\. Next: test it\./);
    assert.ok(!page.text.includes(NEW_SECRET), 'the secret is never shown');
    let p = panel(page.text, 'fabrikam');
    assert.match(p, /<li class="step step-current" data-step="test" aria-current="step">/);
    assert.match(p, /<button type="submit" class="button" disabled aria-describedby="rotate-fabrikam-promote-why">Make primary<\/button>/, 'Make primary waits for a passing test');
    assert.match(p, /data-force>[\s\S]*?data-confirm="Make the untested secondary of fabrikam the primary credential\?"/);
    assert.match(page.text, /<details class="rotation-wrap" data-rotation-wrap="fabrikam" open>/, 'the panel is open');
    // 2. Test it.
    const test = await client.post('/admin/rotation/test', { name: 'fabrikam', back: 'senders', slot: 'secondary' });
    assert.equal(test.status, 303);
    assert.deepEqual(fake.calls.at(-1), { op: 'test', name: 'fabrikam', arg: { slot: 'secondary', actor: 'admin' } });
    page = await client.get(test.location!);
    assert.match(page.text, /The secondary secret of fabrikam passed the test: Entra issued a token\. Next: make it primary\./);
    p = panel(page.text, 'fabrikam');
    assert.match(p, /<li class="step step-current" data-step="promote" aria-current="step">/);
    assert.match(p, /<button type="submit" class="button">Make primary<\/button>/, 'enabled after the passing test');
    assert.doesNotMatch(p, /data-force/, 'no force option once it passed');
    assert.match(p, /<tr data-slot="secondary">[\s\S]*?data-last-test><span class="badge badge-pass">passed/);
    // 3. Make primary.
    const promote = await client.post('/admin/rotation/promote', { name: 'fabrikam', back: 'senders' });
    assert.equal(promote.status, 303);
    assert.deepEqual(fake.calls.at(-1), { op: 'promote', name: 'fabrikam', arg: { actor: 'admin' } });
    page = await client.get(promote.location!);
    assert.match(page.text, /The new credential of fabrikam is now the primary; the old one is the secondary\. Next: remove the old one, then delete it in Entra\./);
    p = panel(page.text, 'fabrikam');
    assert.match(p, /<li class="step step-current" data-step="remove" aria-current="step">/);
    assert.match(p, /Remove the old one…/);
    // 4. Remove the old one: a confirmation first (without the script), then done.
    const ask = await client.post('/admin/rotation/remove', { name: 'fabrikam', back: 'senders' });
    assert.equal(ask.status, 200);
    assert.match(ask.text, /Remove the old credential of fabrikam\?/);
    assert.match(ask.text, /<input type="hidden" name="confirmed" value="yes">/);
    assert.equal(fake.calls.at(-1)?.op, 'promote', 'nothing removed before the confirmation');
    const remove = await client.post('/admin/rotation/remove', { name: 'fabrikam', back: 'senders', confirmed: 'yes' });
    assert.equal(remove.status, 303);
    assert.deepEqual(fake.calls.at(-1), { op: 'remove', name: 'fabrikam', arg: { actor: 'admin' } });
    page = await client.get(remove.location!);
    assert.match(page.text, /The old credential of fabrikam was removed\. Delete it in Entra too\./);
    assert.match(panel(page.text, 'fabrikam'), /data-step="add" aria-current="step"/, 'back at the start');
    assert.ok(!ctx.logs.lines.some((l) => l.includes(NEW_SECRET)), 'no secret in the log');
  });

  it('a failed test is shown with its diagnosis and fixes (escaped); nothing is promoted', async () => {
    fake.views.get('fabrikam')!.secondary = { kind: 'secret', hint: 'Bad', addedAt: '2026-12-04T00:00:00Z' };
    fake.nextTest = { ok: false, code: 'AADSTS7000215', summary: 'The secret\'s ID was entered <instead> of its Value.', fixes: ['Copy the <Value> column, not the Secret ID.', 'Add it again as the secondary.'] };
    await client.get('/admin/senders');
    const r = await client.post('/admin/rotation/test', { name: 'fabrikam', back: 'senders', slot: 'secondary' });
    assert.equal(r.status, 200);
    assert.match(r.text, /The secondary of fabrikam failed the test \(AADSTS7000215\): nothing was changed\./);
    assert.match(r.text, /data-test-result="fail"[\s\S]*?<code>AADSTS7000215<\/code>[\s\S]*?The secret&#39;s ID was entered &lt;instead&gt; of its Value\.[\s\S]*?<li>Copy the &lt;Value&gt; column, not the Secret ID\.<\/li>/);
    assert.match(panel(r.text, 'fabrikam'), /disabled aria-describedby="rotate-fabrikam-promote-why">Make primary/);
    assert.ok(!fake.calls.some((c) => c.op === 'promote'));
  });

  it('a step the service refuses is explained in the flash (promote before a test)', async () => {
    fake.views.get('fabrikam')!.secondary = { kind: 'secret', hint: 'New', addedAt: '2026-12-04T00:00:00Z' };
    await client.get('/admin/senders');
    const r = await client.post('/admin/rotation/promote', { name: 'fabrikam', back: 'senders' });
    assert.equal(r.status, 303);
    const page = await client.get(r.location!);
    assert.match(page.text, /<div class="flash flash-error" role="alert">Test the secondary of fabrikam first \(or force it\)\.<\/div>/);
    assert.equal(fake.views.get('fabrikam')!.primary!.hint, 'Fab', 'unchanged');
  });

  it('forcing Make primary asks first, then promotes with force', async () => {
    fake.views.get('fabrikam')!.secondary = { kind: 'certificate', thumbprint: 'CD'.repeat(20), addedAt: '2026-12-04T00:00:00Z' };
    await client.get('/admin/senders');
    const ask = await client.post('/admin/rotation/promote', { name: 'fabrikam', back: 'senders', force: 'yes' });
    assert.equal(ask.status, 200);
    assert.match(ask.text, /Make the untested secondary of fabrikam the primary\?/);
    assert.match(ask.text, /<input type="hidden" name="force" value="yes">/);
    assert.ok(!fake.calls.some((c) => c.op === 'promote'));
    const r = await client.post('/admin/rotation/promote', { name: 'fabrikam', back: 'senders', force: 'yes', confirmed: 'yes' });
    assert.equal(r.status, 303);
    assert.deepEqual(fake.calls.at(-1), { op: 'promote', name: 'fabrikam', arg: { actor: 'admin', force: true } });
  });

  it('a refused "add" shows the problem at its field, keeps the typed date, never echoes the secret', async () => {
    await client.get('/admin/senders');
    const none = await client.post('/admin/rotation/secondary', { name: 'fabrikam', back: 'senders', clientSecret: '  ' });
    assert.equal(none.status, 422);
    assert.match(none.text, /id="rotate-fabrikam-clientSecret-error"[^>]*>[\s\S]*?Enter the new client secret&#39;s Value, or paste a certificate/);
    assert.equal(fake.calls.length, 0);
    const bad = await client.post('/admin/rotation/secondary', { name: 'fabrikam', back: 'senders', clientSecret: NEW_SECRET, clientSecretExpires: 'next spring' });
    assert.equal(bad.status, 422);
    assert.match(bad.text, /id="rotate-fabrikam-clientSecretExpires-error"[^>]*>[\s\S]*?must be a date such as 2027-06-01/);
    assert.match(bad.text, /<input type="text" id="rotate-fabrikam-clientSecretExpires" name="clientSecretExpires"[^>]* value="next spring">/);
    assert.ok(!bad.text.includes(NEW_SECRET), 'the typed secret is not shown again');
    assert.match(bad.text, /<input type="password" id="rotate-fabrikam-clientSecret" name="clientSecret"[^>]* value="">/);
  });

  it('escapes a hostile credential name, test summary and failover code', async () => {
    const r = await client.get('/admin/senders');
    assert.ok(!r.text.includes(HOSTILE), 'the name is never raw');
    assert.ok(!r.text.includes('<img src=x'), 'the summary is never raw');
    assert.ok(!r.text.includes('<b>7000222</b>'));
    assert.match(r.text, /Rotate &lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;/);
    assert.match(r.text, /&lt;img src=x onerror=alert\(1\)&gt;/);
    assert.match(r.text, /<p class="notice" role="alert" data-failover>Entra refused the primary credential \(<code>&lt;b&gt;7000222&lt;\/b&gt;<\/code>\)/);
    assert.match(r.text, /<input type="hidden" name="name" value="&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;">/);
  });

  it('a read-only credential shows its state and how to rotate it, with only a test form; a forged step POST changes nothing', async () => {
    const r = await client.get('/admin/senders');
    const p = panel(r.text, 'filecred');
    assert.ok(p);
    assert.match(p, /data-read-only>[\s\S]*?MAILGATE_CONFIG/);
    assert.match(p, /Thumbprint <code>(AB){20}<\/code>/);
    assert.deepEqual([...p.matchAll(/data-step-form="(\w+)"/g)].map((m) => m[1]), ['test'], 'no add, promote or remove form');
    assert.match(p, /name="slot" value="primary"/);
    assert.doesNotMatch(p, /name="slot" value="secondary"/, 'no secondary to test');
    const post = await client.post('/admin/rotation/secondary', { name: 'filecred', back: 'senders', clientSecret: NEW_SECRET });
    assert.equal(post.status, 303);
    const page = await client.get(post.location!);
    assert.match(page.text, /The credential filecred is configured by MAILGATE_CONFIG: rotate it in the file\./);
    assert.deepEqual(fake.calls, []);
    // A test changes nothing: allowed, as in the API and `mailgate credentials test`.
    const test = await client.post('/admin/rotation/test', { name: 'filecred', back: 'senders', slot: 'primary' });
    assert.equal(test.status, 303);
    assert.match((await client.get(test.location!)).text, /The primary [^<]* of filecred passed the test/);
    assert.deepEqual((fake.calls as Call[]).map((c) => c.op), ['test']);
    fake.calls = [];
    // Environment variables: the same, naming them.
    fake.views.set('default', { ...fake.views.get('default')!, source: 'environment', readOnly: true });
    const s = await client.get('/admin/settings');
    const d = panel(s.text, 'default');
    assert.match(d, /data-read-only>[\s\S]*?MAILGATE_CLIENT_SECRET/);
    assert.deepEqual([...d.matchAll(/data-step-form="(\w+)"/g)].map((m) => m[1]), ['test']);
  });

  it('the Email Settings page has the default credential\'s panel; its steps return there', async () => {
    const s = await client.get('/admin/settings');
    assert.match(s.text, /<h2 id="rotate-heading">Rotate the credential without downtime<\/h2>/);
    const p = panel(s.text, 'default');
    assert.match(p, /<input type="hidden" name="back" value="settings">/);
    assert.doesNotMatch(s.text, /id="rotate-fabrikam"/, 'only the default credential there');
    const add = await client.post('/admin/rotation/secondary', { name: 'default', back: 'settings', clientSecret: NEW_SECRET });
    assert.equal(add.status, 303);
    assert.equal(add.location, '/admin/settings#rotate-default');
    const page = await client.get('/admin/settings');
    assert.match(page.text, /The new secret of default was added as the secondary\. Next: test it\./);
    assert.ok(!page.text.includes(NEW_SECRET));
    // An unknown `back` goes to the panel's own page, never to a URL from the request.
    const other = await client.post('/admin/rotation/test', { name: 'default', back: 'https://evil.example/' });
    assert.equal(other.location, '/admin/rotation?name=default');
    const own = await client.get(other.location!);
    assert.equal(own.status, 200);
    assert.match(own.text, /<h1>Rotate default<\/h1>/);
  });

  it('the credential form has "Client Secret expires" (a date), saved and shown again; the Email Settings form has it too', async () => {
    const list = await client.get('/admin/senders');
    assert.match(list.text, /<label for="credential-clientSecretExpires">Client Secret expires<\/label>\s*<div class="hint" id="credential-clientSecretExpires-hint">Optional: the date shown next to the secret in Entra&#39;s Certificates &amp; secrets\./);
    assert.match(list.text, /<input type="date" id="credential-clientSecretExpires" name="clientSecretExpires"/);
    const r = await client.post('/admin/senders/credential', { mode: 'create', name: 'northwind', cloud: 'global', tenantId: 'northwind.onmicrosoft.com', clientId: CLIENT, clientSecret: NEW_SECRET, clientSecretExpires: '2027-03-15' });
    assert.equal(r.status, 303);
    assert.equal(ctx.svc.deps.senders!.credentials().find((c) => c.name === 'northwind')?.clientSecretExpires, '2027-03-15');
    const edit = await client.get('/admin/senders/credential?name=northwind');
    assert.match(edit.text, /<input type="date" id="edit-credential-clientSecretExpires" name="clientSecretExpires"[^>]* value="2027-03-15">/);
    const bad = await client.post('/admin/senders/credential', { mode: 'update', name: 'northwind', cloud: 'global', tenantId: 'northwind.onmicrosoft.com', clientId: CLIENT, clientSecretExpires: 'soon' });
    assert.equal(bad.status, 422);
    assert.match(bad.text, /id="edit-credential-clientSecretExpires-error"/);
    const settings = await client.get('/admin/settings');
    assert.match(settings.text, /<label for="modern-clientSecretExpires">Client Secret expires<\/label>/);
    assert.match(settings.text, /<input type="date" id="modern-clientSecretExpires" name="clientSecretExpires"/);
  });
});

describe('admin page: credential rotation on the real rotation service (a stored credential)', () => {
  let ctx: AdminCtx;
  let client: AdminClient;
  const OLD = 'Fab~old-stored-secret_0123456789';
  before(async () => {
    ctx = await startAdmin({ env: { MAILGATE_CLIENT_ID: CLIENT, MAILGATE_TENANT_ID: 'contoso.onmicrosoft.com', MAILGATE_CLIENT_SECRET: 'rotation-real-default-secret', MAILGATE_AUTHORIZED_FROM: 'noreply@contoso.com' } });
    client = appClient(ctx);
    assert.equal((await client.login()).status, 303);
    const r = await ctx.svc.deps.senders!.putCredential({ name: 'fabrikam', tenantId: 'fabrikam.onmicrosoft.com', clientId: CLIENT, clientSecret: OLD, clientSecretExpires: '2027-02-01' }, 'admin', { create: true });
    assert.ok(r.ok, JSON.stringify(r));
  });
  after(async () => {
    await ctx.stop();
  });

  it('adds, refuses out-of-order steps with the service\'s explanation, forces, removes; the environment\'s default is read-only', async () => {
    const rot = ctx.svc.deps.credentialRotation!;
    assert.ok(rot, 'the service hands the admin page its rotation service');
    const list = await client.get('/admin/senders');
    const p = panel(list.text, 'fabrikam');
    assert.match(p, /data-source="stored"/);
    assert.match(p, /<tr data-slot="primary" data-active>[\s\S]*?2027-02-01[\s\S]*?<code>Fab<\/code>/);
    // The default credential comes from environment variables: state and a token test only.
    const d = panel(list.text, 'default');
    assert.match(d, /data-source="environment"/);
    assert.deepEqual([...d.matchAll(/data-step-form="(\w+)"/g)].map((m) => m[1]), ['test']);
    // A certificate's expiry is its own: the service's problem is shown at the date field.
    const pem = await client.post('/admin/rotation/secondary', { name: 'fabrikam', back: 'senders', clientCertificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----', clientSecretExpires: '2028-01-01' });
    assert.equal(pem.status, 422);
    assert.match(pem.text, /id="rotate-fabrikam-clientSecretExpires-error"[^>]*>[\s\S]*?is for a client secret/);
    assert.equal(rot.get('fabrikam')!.secondary, null);
    // 1. Add.
    const add = await client.post('/admin/rotation/secondary', { name: 'fabrikam', back: 'senders', clientSecret: NEW_SECRET, clientSecretExpires: '2028-01-01' });
    assert.equal(add.status, 303);
    let v = rot.get('fabrikam')!;
    assert.equal(v.secondary?.hint, 'Rot');
    assert.equal(v.secondary?.expires, '2028-01-01');
    let page = await client.get(add.location!);
    assert.ok(!page.text.includes(NEW_SECRET) && !page.text.includes(OLD), 'no secret on the page');
    // Out of order: a second secondary, and promoting the untested one.
    const again = await client.post('/admin/rotation/secondary', { name: 'fabrikam', back: 'senders', clientSecret: 'Another~secret-value_0123456789' });
    assert.equal(again.status, 303);
    page = await client.get(again.location!);
    assert.match(page.text, /<div class="flash flash-error" role="alert">The credential has a secondary already \(remove it before adding another\): [^<]+<\/div>/);
    const early = await client.post('/admin/rotation/promote', { name: 'fabrikam', back: 'senders' });
    page = await client.get(early.location!);
    assert.match(page.text, /<div class="flash flash-error" role="alert">The secondary was not tested: test the secondary/);
    assert.equal(rot.get('fabrikam')!.primary?.hint, 'Fab', 'unchanged');
    // 3. Forced, after the confirmation.
    const forced = await client.post('/admin/rotation/promote', { name: 'fabrikam', back: 'senders', force: 'yes', confirmed: 'yes' });
    assert.equal(forced.status, 303);
    v = rot.get('fabrikam')!;
    assert.equal(v.primary?.hint, 'Rot');
    assert.equal(v.secondary?.hint, 'Fab');
    page = await client.get(forced.location!);
    assert.match(panel(page.text, 'fabrikam'), /data-step="remove" aria-current="step"[\s\S]*?Remove the old one…/);
    // 4. Remove the old one.
    const removed = await client.post('/admin/rotation/remove', { name: 'fabrikam', back: 'senders', confirmed: 'yes' });
    assert.equal(removed.status, 303);
    assert.equal(rot.get('fabrikam')!.secondary, null);
    page = await client.get(removed.location!);
    assert.match(page.text, /The old credential of fabrikam was removed\. Delete it in Entra too\./);
    // Read-only: a forged POST for the environment's credential is refused with the service's reason.
    const forged = await client.post('/admin/rotation/secondary', { name: 'default', back: 'settings', clientSecret: NEW_SECRET });
    assert.equal(forged.status, 303);
    page = await client.get('/admin/settings');
    assert.match(page.text, /The credential default is set by environment variables: rotate it there\./);
    assert.ok(!ctx.logs.lines.some((l) => l.includes(NEW_SECRET) || l.includes(OLD)), 'no secret in the log');
  });

  it('editing a credential keeps its secondary; moving its destination first needs the secondary removed (the form says where)', async () => {
    const rot = ctx.svc.deps.credentialRotation!;
    await rot.addSecondary('fabrikam', { clientSecret: 'Third~secret-value_0123456789' }, 'admin');
    const base = { mode: 'update', name: 'fabrikam', cloud: 'global', tenantId: 'fabrikam.onmicrosoft.com', clientId: CLIENT, clientSecretExpires: '2028-01-01' };
    const kept = await client.post('/admin/senders/credential', base);
    assert.equal(kept.status, 303);
    assert.equal(rot.get('fabrikam')!.secondary?.hint, 'Thi', 'the secondary is kept by an ordinary edit');
    const moved = await client.post('/admin/senders/credential', { ...base, smtpHost: 'smtp.elsewhere.example', clientSecret: 'Moved~secret-value_0123456789' });
    assert.equal(moved.status, 422);
    assert.match(moved.text, /secondary: changing [^<]*On this admin page: &quot;Remove the secondary…&quot; in the credential&#39;s Rotate panel on the Senders tab\./);
    assert.equal(ctx.svc.deps.senders!.credentials().find((c) => c.name === 'fabrikam')?.smtpHost, undefined, 'nothing saved');
  });
});

describe('admin page: the Email Settings with a secondary credential', () => {
  let ctx: AdminCtx;
  let client: AdminClient;
  before(async () => {
    ctx = await startAdmin();
    client = appClient(ctx);
    assert.equal((await client.login()).status, 303);
    const saved = await ctx.svc.deps.settings.update({ useModernAuth: 'true', clientId: CLIENT, tenantId: 'contoso.onmicrosoft.com', clientSecret: 'Stored~primary-secret_0123456789', authorizedFrom: 'noreply@contoso.com' }, 'admin');
    assert.ok(saved.ok, JSON.stringify(saved));
    await ctx.svc.deps.credentialRotation!.addSecondary('default', { clientSecret: NEW_SECRET }, 'admin');
  });
  after(async () => {
    await ctx.stop();
  });

  it('moving the SMTP host while a secondary exists is refused, pointing at the Rotate panel that removes it', async () => {
    const page = await client.get('/admin/settings');
    assert.match(panel(page.text, 'default'), /data-source="settings"[\s\S]*?<tr data-slot="secondary">[\s\S]*?<code>Rot<\/code>/);
    const r = await client.post('/admin/settings', { useModernAuth: 'true', smtpHost: 'smtp.elsewhere.example', clientSecret: 'Moved~primary-secret_0123456789' });
    assert.equal(r.status, 422);
    assert.match(r.text, /<a href="#rotate-default">[^<]*secondary credential[^<]*On this page: &quot;Remove the secondary&quot; in the Rotate panel below\.<\/a>/);
    assert.match(r.text, /<section class="panel rotation" id="rotate-default"/, 'the panel is on the page it links to');
    assert.ok(!r.text.includes(NEW_SECRET) && !r.text.includes('Moved~primary'), 'no secret on the page');
    assert.equal(ctx.svc.deps.settings.view().values.smtpHost, 'smtp.office365.com', 'nothing saved');
  });
});
