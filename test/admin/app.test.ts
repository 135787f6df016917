/**
 * The admin app in-process (`app.request()` through `createApp`, a real SQLite store in a temp
 * dir, a fake mailer): sign-in, cookies, CSRF on every form, login rate limiting, the Email
 * Settings form (write-only secrets, all problems next to their fields, env values read-only,
 * audit), the Test page, Diagnostics, the delivery log (escaping, filter, detail, retry) and
 * API keys. Above all: no page ever contains the stored client secret or SMTP password.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClientCertificate } from '../../src/emulator/index.js';
import { after, before, describe, it } from 'node:test';
import { createAdminApp } from '../../src/admin/index.js';
import { MailgateError } from '../../src/core/errors.js';
import { StorageFullError } from '../../src/service/outbox/store.js';
import type { DoctorReport } from '../../src/doctor/index.js';
import { createApp } from '../../src/service/intake/http/app.js';
import { parseMessageRequest } from '../../src/service/intake/message-request.js';
import { AdminClient, ADMIN_PASSWORD, appClient, SECRET, SMTP_PASSWORD, startAdmin, VALID, type AdminCtx } from './helpers.js';

const SP_OID = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';

const fakeReport: DoctorReport = {
  ok: false,
  checks: [
    { id: 'settings', status: 'pass', summary: 'The settings are complete.' },
    { id: 'token-claims', status: 'pass', summary: 'The token is right.', details: { oid: SP_OID, roles: ['SMTP.SendAsApp'] } },
    {
      id: 'smtp-auth',
      status: 'fail',
      summary: 'Exchange Online refused the sign-in: 535 5.7.3 Authentication unsuccessful <script>alert(1)</script>',
      fix: 'Step one.\nStep two.',
      commands: [`New-ServicePrincipal -AppId ${VALID.clientId} -ObjectId ${SP_OID} -DisplayName "Mailgate"`],
      details: { reply: '535 5.7.3 Authentication unsuccessful', causes: ['The service principal is missing.'], docs: ['https://learn.microsoft.com/x', 'javascript:alert(1)'] },
    },
    { id: 'send', status: 'skip', summary: 'Skipped: no recipient.' },
  ],
};

async function signedIn(ctx: AdminCtx): Promise<AdminClient> {
  const client = appClient(ctx);
  const r = await client.login();
  assert.equal(r.status, 303, 'signed in');
  return client;
}

async function saveValid(client: AdminClient, extra: Record<string, string> = {}) {
  return client.post('/admin/settings', { ...VALID, useModernAuth: ['false', 'true'], clientSecret: SECRET, ...extra });
}

describe('admin: sign-in, sessions and CSRF', () => {
  let ctx: AdminCtx;
  before(async () => {
    ctx = await startAdmin({ admin: { clientAddress: (c) => c.req.header('x-test-client') ?? '192.0.2.10' } });
  });
  after(() => ctx.stop());

  it('redirects every page to the login page when not signed in, and serves the assets publicly', async () => {
    const client = appClient(ctx);
    for (const path of ['/admin', '/admin/settings', '/admin/test', '/admin/diagnostics', '/admin/messages', '/admin/api-keys']) {
      const r = await client.get(path);
      assert.equal(r.status, 303, path);
      assert.match(r.location!, /^\/admin\/login/);
    }
    const r = await client.get('/admin/messages?status=failed');
    assert.equal(r.location, `/admin/login?next=${encodeURIComponent('/admin/messages?status=failed')}`);
    const css = await client.get('/admin/assets/admin.css');
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type')!, /text\/css/);
    const js = await client.get('/admin/assets/admin.js');
    assert.match(js.headers.get('content-type')!, /javascript/);
    assert.match(js.text, /modern-section/);
  });

  it('the login page sets an HttpOnly, SameSite=Strict session cookie (Secure behind TLS) and strict security headers', async () => {
    const client = appClient(ctx);
    const r = await client.get('/admin/login');
    assert.equal(r.status, 200);
    const cookie = r.headers.getSetCookie().join('\n');
    assert.match(cookie, /mailgate_admin=/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Path=\/admin/);
    assert.doesNotMatch(cookie, /Secure/);
    assert.match(r.text, /<html lang="en">/);
    assert.match(r.text, /<label for="password">Admin password<\/label>/);
    const csp = r.headers.get('content-security-policy')!;
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.doesNotMatch(r.text, /<script>/, 'no inline script');

    const tls = await appClient(ctx).get('/admin/login', { 'x-forwarded-proto': 'https' });
    assert.match(tls.headers.getSetCookie().join('\n'), /Secure/);
  });

  it('refuses the login form without the CSRF token (403)', async () => {
    const client = appClient(ctx);
    await client.get('/admin/login');
    assert.equal((await client.post('/admin/login', { password: ADMIN_PASSWORD }, { csrf: false })).status, 403);
    assert.equal((await client.post('/admin/login', { password: ADMIN_PASSWORD }, { csrf: 'forged' })).status, 403);
    const noCookie = appClient(ctx);
    const r = await noCookie.post('/admin/login', { password: ADMIN_PASSWORD }, { csrf: client.csrf });
    assert.equal(r.status, 403, 'a token without its session is refused');
    assert.match(r.text, /Form expired/);
  });

  it('signs in with the admin password, rotating the session, and writes an audit line', async () => {
    const client = appClient(ctx);
    await client.get('/admin/login');
    const anonymous = client.cookies.get('mailgate_admin');
    const r = await client.post('/admin/login', { password: ADMIN_PASSWORD, next: '/admin/messages' });
    assert.equal(r.status, 303);
    assert.equal(r.location, '/admin/messages');
    assert.notEqual(client.cookies.get('mailgate_admin'), anonymous, 'new session id after sign-in');
    assert.equal((await client.get('/admin/messages')).status, 200);
    const audit = await ctx.svc.store.listAudit(10);
    assert.ok(audit.some((e) => e.action === 'admin.login' && e.actor === 'admin'));
    // The anonymous session is gone.
    const stale = new AdminClient((p, i) => Promise.resolve(ctx.svc.app.request(p, i)));
    stale.cookies.set('mailgate_admin', anonymous!);
    assert.equal((await stale.get('/admin/settings')).status, 303);
  });

  it('ignores an unsafe "next" (open redirect)', async () => {
    const client = appClient(ctx);
    await client.get('/admin/login');
    const r = await client.post('/admin/login', { password: ADMIN_PASSWORD, next: '//evil.example/admin/x' });
    assert.equal(r.location, '/admin/settings');
  });

  it('rate-limits wrong passwords per client address with a clear message', async () => {
    const client = appClient(ctx);
    const addr = { 'x-test-client': '198.51.100.7' };
    await client.get('/admin/login');
    for (let i = 1; i <= 5; i++) {
      const r = await client.post('/admin/login', { password: `wrong ${i}` }, { headers: addr });
      assert.equal(r.status, 401);
      assert.equal(r.text.match(/The password is not correct/g)?.length, 1, 'the error is shown once');
      assert.doesNotMatch(r.text, /id="password-error"/);
      assert.match(r.text, /<input type="password" id="password" name="password" aria-describedby="login-error" aria-invalid="true"/);
    }
    const limited = await client.post('/admin/login', { password: ADMIN_PASSWORD }, { headers: addr });
    assert.equal(limited.status, 429, 'even the right password is refused while paused');
    assert.match(limited.text, /Too many wrong passwords from your address \(198\.51\.100\.7\)\. Sign-in is paused for 15 minutes/);
    assert.ok(Number(limited.headers.get('retry-after')) > 800);
    // Another address is not affected.
    const other = await client.post('/admin/login', { password: ADMIN_PASSWORD }, { headers: { 'x-test-client': '203.0.113.9' } });
    assert.equal(other.status, 303);
  });

  it('logout ends the session (POST with CSRF only)', async () => {
    const client = await signedIn(ctx);
    assert.equal((await client.post('/admin/logout', {}, { csrf: false })).status, 403);
    const r = await client.post('/admin/logout', {});
    assert.equal(r.status, 303);
    assert.equal(r.location, '/admin/login?signed-out');
    assert.equal((await client.get('/admin/settings')).status, 303);
  });

  it('refuses every form without the CSRF token (403) and changes nothing', async () => {
    const client = await signedIn(ctx);
    const before = await ctx.svc.store.settingsVersion();
    const forms: [string, Record<string, string>][] = [
      ['/admin/settings', { ...VALID, clientSecret: 'Zz9~another-secret-value-123' }],
      ['/admin/test', { to: 'someone@example.com' }],
      ['/admin/diagnostics', {}],
      ['/admin/messages/00000000-0000-4000-8000-000000000000/retry', {}],
      ['/admin/api-keys', { name: 'csrf-test', scope: 'admin' }],
      ['/admin/api-keys/revoke', { name: 'x' }],
      ['/admin/logout', {}],
    ];
    for (const [path, form] of forms) {
      const r = await client.post(path, form, { csrf: false });
      assert.equal(r.status, 403, path);
      const forged = await client.post(path, form, { csrf: 'A'.repeat(43) });
      assert.equal(forged.status, 403, `${path} with a forged token`);
    }
    // A JSON body cannot carry the token either.
    const json = await ctx.svc.app.request('/admin/settings', { method: 'POST', headers: { cookie: `mailgate_admin=${client.cookies.get('mailgate_admin')}`, 'content-type': 'application/json' }, body: JSON.stringify({ _csrf: client.csrf }) });
    assert.equal(json.status, 403);
    assert.equal(await ctx.svc.store.settingsVersion(), before, 'no settings were saved');
    assert.ok(!(await ctx.svc.store.listApiKeys()).some((k) => k.name === 'csrf-test'));
    assert.equal(ctx.mailer.calls.length, 0, 'no test email was sent');
    assert.equal((await client.get('/admin/settings')).status, 200, 'still signed in');
  });
});

describe('admin: Email Settings', () => {
  let ctx: AdminCtx;
  let client: AdminClient;
  before(async () => {
    ctx = await startAdmin();
    client = await signedIn(ctx);
  });
  after(() => ctx.stop());

  it('shows the switch and the SMTP section with exactly the issue\'s labels, bound to their inputs', async () => {
    const r = await client.get('/admin/settings');
    assert.equal(r.status, 200);
    assert.match(r.text, /<input type="checkbox" id="useModernAuth" name="useModernAuth" value="true" checked role="switch"/);
    assert.match(r.text, /<label for="useModernAuth">Use modern SMTP Authentication<\/label>/);
    const labels: [string, string][] = [
      ['modern-smtpHost', 'SMTP Client Server'],
      ['modern-smtpPort', 'Port'],
      ['modern-clientId', 'Application \\(client\\) ID'],
      ['modern-clientSecret', 'Client Secret'],
      ['modern-tenantId', 'Directory \\(tenant\\) ID'],
      ['modern-authorizedFrom', 'Authorized from Address'],
      ['modern-cloud', 'Cloud'],
      ['modern-clientCertificatePath', 'Client certificate \\(instead of the Client Secret\\)'],
      ['basic-smtpUsername', 'SMTP Username'],
      ['basic-smtpPassword', 'SMTP Password'],
    ];
    for (const [id, label] of labels) assert.match(r.text, new RegExp(`<label for="${id}">${label}</label>`), id);
    for (const cloud of ['Global', 'GCC High', 'DoD', 'China']) assert.match(r.text, new RegExp(`<option value="[a-z-]+"(?: selected)?>${cloud}`));
    assert.match(r.text, /<fieldset class="panel" id="modern-section">/);
    assert.match(r.text, /<fieldset class="panel" id="basic-section" hidden disabled>/);
    assert.match(r.text, /disables Basic authentication for SMTP AUTH by default for existing Microsoft 365 tenants from the end of December 2026/);
    assert.match(r.text, /Not configured yet/);
  });

  it('lists every problem at once next to its field, and never echoes a typed secret', async () => {
    const typed = 'Typed~NewSecret-never-echoed-987654';
    const r = await client.post('/admin/settings', {
      useModernAuth: ['false', 'true'],
      clientId: 'not-a-guid',
      tenantId: 'bad tenant',
      authorizedFrom: 'nobody',
      smtpPort: '99999',
      clientSecret: typed,
      connectionTimeoutMs: 'soon',
    });
    assert.equal(r.status, 422);
    for (const id of ['modern-clientId', 'modern-tenantId', 'modern-authorizedFrom', 'modern-smtpPort', 'adv-connectionTimeoutMs']) {
      assert.match(r.text, new RegExp(`<p class="field-error" id="${id}-error">`), id);
      assert.match(r.text, new RegExp(`id="${id}" name="[A-Za-z]+" aria-describedby="[^"]*${id}-error" aria-invalid="true"`), `${id} described by its error`);
      assert.match(r.text, new RegExp(`<a href="#${id}">`), `${id} in the summary`);
    }
    assert.match(r.text, /Application \(client\) ID must be a GUID/);
    assert.match(r.text, /Port must be between 1 and 65535/);
    assert.match(r.text, /value="not-a-guid"/, 'non-secret values are shown again');
    assert.ok(!r.text.includes(typed), 'the typed secret is not echoed');
    assert.match(r.text, /The Client Secret you typed was not saved/);
    assert.equal((await ctx.svc.store.getSettings()).clientId, undefined, 'nothing saved');
  });

  it('saves valid settings with an audit line, shows the secret only as "set", and never sends it to the browser', async () => {
    const r = await saveValid(client);
    assert.equal(r.status, 303);
    const page = await client.get('/admin/settings');
    assert.match(page.text, /Saved\. Changed: /);
    assert.match(page.text, /Client Secret/);
    assert.match(page.text, /Currently <span class="secret-state secret-set">set<\/span>/);
    assert.match(page.text, /The saved settings are complete and valid/);
    assert.ok(!page.text.includes(SECRET));
    assert.match(page.text, /id="modern-clientSecret" name="clientSecret"[^>]*value=""/);
    const audit = await ctx.svc.store.listAudit(5);
    const entry = audit.find((e) => e.action === 'settings.update');
    assert.ok(entry, 'audit line written');
    assert.equal(entry.actor, 'admin');
    assert.ok((entry.detail.keys as string[]).includes('clientSecret'));
    assert.ok(!JSON.stringify(audit).includes(SECRET));
    assert.deepEqual(ctx.svc.settings.secrets(), [SECRET]);
  });

  it('keeps the stored secret when the field is left empty, even after a failed save, and no page contains it', async () => {
    const failed = await client.post('/admin/settings', { ...VALID, clientId: 'broken', clientSecret: '' });
    assert.equal(failed.status, 422);
    assert.ok(!failed.text.includes(SECRET));
    assert.match(failed.text, /Currently <span class="secret-state secret-set">set<\/span>/);
    const ok = await client.post('/admin/settings', { ...VALID, smtpPort: '587', clientSecret: '' });
    assert.equal(ok.status, 303);
    assert.deepEqual(ctx.svc.settings.secrets(), [SECRET], 'secret kept');
    for (const path of ['/admin/settings', '/admin/test', '/admin/diagnostics', '/admin/messages', '/admin/api-keys']) {
      const p = await client.get(path);
      assert.ok(!p.text.includes(SECRET), path);
    }
  });

  it('leaves a default on its default (so the Cloud still moves the SMTP host) and an emptied field goes back to it', async () => {
    await client.post('/admin/settings', { ...VALID, smtpHost: 'smtp.office365.com', cloud: 'global' });
    assert.equal(ctx.svc.settings.view().sources.smtpHost, 'default');
    assert.equal(ctx.svc.settings.view().sources.cloud, 'default');
    await client.post('/admin/settings', { ...VALID, smtpHost: 'smtp.example.net', clientSecret: SECRET });
    assert.equal(ctx.svc.settings.view().sources.smtpHost, 'stored');
    await client.post('/admin/settings', { ...VALID, smtpHost: '', clientSecret: SECRET });
    assert.equal(ctx.svc.settings.view().sources.smtpHost, 'default');
    await client.post('/admin/settings', { ...VALID, cloud: 'gcc-high', clientSecret: SECRET });
    assert.equal(ctx.svc.settings.settings()?.smtpHost, 'smtp.office365.us');
    await client.post('/admin/settings', { ...VALID, cloud: 'global', clientSecret: SECRET });
  });

  it('moving the SMTP host or the authority host needs the secret typed again (a stolen session cannot redirect it)', async () => {
    const r = await client.post('/admin/settings', { ...VALID, smtpHost: 'mx.attacker.example' });
    assert.equal(r.status, 422);
    assert.match(r.text, /type it again to change SMTP Client Server/);
    const r2 = await client.post('/admin/settings', { ...VALID, authorityHost: 'https://login.attacker.example' });
    assert.equal(r2.status, 422);
    assert.notEqual(ctx.svc.settings.settings()?.smtpHost, 'mx.attacker.example');
    assert.ok(!r.text.includes(SECRET) && !r2.text.includes(SECRET));
  });

  it('"clear" deletes a stored secret (here: a certificate replaces it)', async () => {
    const bad = await client.post('/admin/settings', { ...VALID, clientCertificatePath: '/etc/mailgate/missing.pem', clientSecretClear: 'on' });
    assert.equal(bad.status, 422, 'an unreadable certificate file is refused when saved');
    assert.match(bad.text, /cannot read \/etc\/mailgate\/missing\.pem/);
    const cert = await createClientCertificate();
    const certPath = join(mkdtempSync(join(tmpdir(), 'mailgate-admin-cert-')), 'client.pem');
    writeFileSync(certPath, `${cert.certPem}\n${cert.privateKeyPem}`);
    const r = await client.post('/admin/settings', { ...VALID, clientCertificatePath: certPath, clientSecretClear: 'on' });
    assert.equal(r.status, 303);
    assert.deepEqual(ctx.svc.settings.secrets(), []);
    const page = await client.get('/admin/settings');
    assert.match(page.text, /id="modern-clientSecret-hint">Currently <span class="secret-state secret-unset">not set<\/span>/);
    // Put the secret back for the next tests.
    assert.equal((await saveValid(client, { clientCertificatePath: '' })).status, 303);
  });

  it('modern authentication off: the Basic section with the notice; the SMTP password is write-only too', async () => {
    const missing = await client.post('/admin/settings', { useModernAuth: 'false', authorizedFrom: VALID.authorizedFrom });
    assert.equal(missing.status, 422);
    assert.match(missing.text, /<fieldset class="panel" id="modern-section" hidden disabled>/, 'server renders the submitted state');
    assert.match(missing.text, /<fieldset class="panel" id="basic-section">/);
    assert.match(missing.text, /id="basic-smtpUsername-error"/);
    assert.match(missing.text, /id="basic-smtpPassword-error"/);
    const r = await client.post('/admin/settings', { useModernAuth: 'false', smtpUsername: 'sender@contoso.com', smtpPassword: SMTP_PASSWORD, authorizedFrom: VALID.authorizedFrom });
    assert.equal(r.status, 303);
    const page = await client.get('/admin/settings');
    assert.match(page.text, /<fieldset class="panel" id="basic-section">/);
    assert.match(page.text, /end of December 2026/);
    assert.ok(!page.text.includes(SMTP_PASSWORD));
    assert.ok(!page.text.includes(SECRET), 'the client secret stays stored and hidden');
    const failed = await client.post('/admin/settings', { useModernAuth: 'false', smtpUsername: 'sender@contoso.com', authorizedFrom: 'broken' });
    assert.equal(failed.status, 422);
    assert.ok(!failed.text.includes(SMTP_PASSWORD));
    assert.equal((await saveValid(client)).status, 303);
  });
});

describe('admin: values from environment variables', () => {
  let ctx: AdminCtx;
  before(async () => {
    ctx = await startAdmin({ env: { MAILGATE_CLIENT_ID: VALID.clientId, MAILGATE_CLIENT_SECRET: SECRET } });
  });
  after(() => ctx.stop());

  it('shows them read-only with a note naming the variable, never submits them, never shows the secret', async () => {
    const client = await signedIn(ctx);
    const page = await client.get('/admin/settings');
    assert.match(page.text, /<input type="text" id="modern-clientId"[^>]* readonly[^>]*value="11111111-2222-3333-4444-555555555555">/);
    assert.doesNotMatch(page.text, /id="modern-clientId" name=/);
    assert.match(page.text, /Set by the environment variable <code>MAILGATE_CLIENT_ID<\/code>; change it there\./);
    assert.match(page.text, /Set by the environment variable <code>MAILGATE_CLIENT_SECRET<\/code>/);
    assert.ok(!page.text.includes(SECRET));
    const r = await client.post('/admin/settings', { clientId: '99999999-2222-3333-4444-555555555555', tenantId: VALID.tenantId, authorizedFrom: VALID.authorizedFrom, clientSecret: 'Another~secret-from-a-crafted-form' });
    assert.equal(r.status, 303);
    assert.equal(ctx.svc.settings.settings()?.clientId, VALID.clientId, 'the environment still wins');
    assert.equal((await ctx.svc.store.getSettings()).clientId, undefined);
    assert.equal((await ctx.svc.store.getSettings()).clientSecret, undefined);
  });
});

describe('admin: Test, Diagnostics, delivery log, API keys', () => {
  let ctx: AdminCtx;
  let client: AdminClient;
  let diagnosticsCalls: { to?: string }[];
  before(async () => {
    diagnosticsCalls = [];
    ctx = await startAdmin({ service: { runDiagnostics: async (input) => (diagnosticsCalls.push(input), fakeReport) } });
    client = await signedIn(ctx);
    assert.equal((await saveValid(client)).status, 303);
  });
  after(() => ctx.stop());

  it('Test: validates the recipient server-side, then shows the server reply in place', async () => {
    const bad = await client.post('/admin/test', { to: 'not an address' });
    assert.equal(bad.status, 422);
    assert.match(bad.text, /id="test-to-error"/);
    assert.equal(ctx.mailer.calls.length, 0);
    const r = await client.post('/admin/test', { to: 'me@example.com' });
    assert.equal(r.status, 200);
    assert.match(r.text, /<section id="test-result" class="result" aria-live="polite"/);
    assert.match(r.text, /data-outcome="success"/);
    assert.match(r.text, /250 2\.0\.0 OK/);
    assert.deepEqual(ctx.mailer.calls.at(-1)?.to, ['me@example.com']);
  });

  it('Test: a failure shows the diagnosis and copyable commands', async () => {
    ctx.mailer.behaviour = () => {
      throw new MailgateError({ code: 'AUTH_FAILED', phase: 'auth', message: 'The SMTP server refused the authentication', smtp: { code: 535, enhanced: '5.7.3', raw: '535 5.7.3 Authentication unsuccessful [SN4PR0601CA0012.namprd06.prod.outlook.com]', command: 'AUTH XOAUTH2' } });
    };
    try {
      const r = await client.post('/admin/test', { to: 'me@example.com' });
      assert.match(r.text, /data-outcome="failure"/);
      assert.match(r.text, /535 5\.7\.3 Authentication unsuccessful/);
      assert.match(r.text, /data-diagnosis="smtp-535-5\.7\.3/);
      assert.match(r.text, /New-ServicePrincipal/);
      assert.match(r.text, /<button type="button" class="copy" data-copy="test-cmd-1" hidden>Copy<\/button>/);
      assert.ok(!r.text.includes(SECRET));
    } finally {
      ctx.mailer.behaviour = (m) => ({ messageId: m.messageId ?? '<x@y>', response: '250 2.0.0 OK', accepted: m.to, rejected: [] });
    }
  });

  it('Diagnostics: the doctor\'s checks as a step list with fixes, commands and the set-up script link (escaped)', async () => {
    const r = await client.post('/admin/diagnostics', { to: '' });
    assert.equal(r.status, 200);
    assert.deepEqual(diagnosticsCalls.at(-1), { to: undefined });
    assert.match(r.text, /1 of 4 checks failed/);
    assert.match(r.text, /<li class="step step-fail" data-check="smtp-auth" data-status="fail">/);
    assert.match(r.text, /<span class="badge badge-fail">Fail<\/span><h3>SMTP AUTH sign-in<\/h3>/);
    assert.match(r.text, /<p>Step one\.<\/p><p>Step two\.<\/p>/);
    assert.match(r.text, new RegExp(`New-ServicePrincipal -AppId ${VALID.clientId} -ObjectId ${SP_OID} -DisplayName &quot;Mailgate&quot;`));
    assert.match(r.text, /data-copy="check-smtp-auth-cmd-1"/);
    assert.match(r.text, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.doesNotMatch(r.text, /<script>alert/);
    assert.doesNotMatch(r.text, /href="javascript:/);
    assert.match(r.text, new RegExp(`href="/admin/diagnostics/setup-script.ps1\\?oid=${SP_OID}"`));
    const withTo = await client.post('/admin/diagnostics', { to: 'bad' });
    assert.equal(withTo.status, 422);
    assert.match(withTo.text, /id="diag-to-error"/);
  });

  it('Diagnostics: downloads the set-up script with the object id (only a GUID is accepted)', async () => {
    const r = await client.get(`/admin/diagnostics/setup-script.ps1?oid=${SP_OID}`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-disposition')!, /attachment; filename="mailgate-setup.ps1"/);
    assert.ok(r.text.includes(SP_OID));
    assert.ok(r.text.includes(VALID.clientId));
    const placeholder = await client.get(`/admin/diagnostics/setup-script.ps1?oid=${encodeURIComponent("'; Remove-Item C:\\")}`);
    assert.equal(placeholder.status, 200);
    assert.ok(!placeholder.text.includes('Remove-Item C:'));
    assert.match(placeholder.text, /Enterprise applications/);
  });

  it('Delivery log: a <script> subject renders as text; filter, detail with timeline, retry of a failed message', async () => {
    const evil = '<script>alert("subject")</script>';
    const parsed = parseMessageRequest({ to: 'victim@example.com', subject: evil, text: 'x' });
    assert.ok(parsed.ok);
    const sent = parseMessageRequest({ to: 'ok@example.com', subject: 'Welcome', text: 'x' });
    assert.ok(sent.ok);
    const { message } = await ctx.svc.deps.outbox.submit(parsed.request);
    await ctx.svc.deps.outbox.submit(sent.request);
    const now = Date.now();
    const [claimed] = await ctx.svc.store.claim({ owner: 't', limit: 1, now: now + 1, leaseMs: 60_000 });
    assert.equal(claimed!.id, message.id);
    await ctx.svc.store.markFailed(claimed!.lease, {
      at: now + 2,
      outcome: 'failed',
      reply: '550 5.7.60 SMTP; Client does not have permissions to send as this sender <b>bold</b>',
      code: 'SMTP_REJECTED',
      diagnosis: { id: 'smtp-550-5.7.60', summary: 'The mailbox may not send as this From address.', causes: ['No SendAs.'], fixes: ['Grant SendAs.'], commands: ['Add-RecipientPermission -Identity x@contoso.com -Trustee sender@contoso.com -AccessRights SendAs'] },
    });

    const list = await client.get('/admin/messages');
    assert.equal(list.status, 200);
    assert.ok(list.text.includes('&lt;script&gt;alert(&quot;subject&quot;)&lt;/script&gt;'));
    assert.ok(!list.text.includes(evil));
    assert.match(list.text, /&lt;b&gt;bold&lt;\/b&gt;/);
    assert.match(list.text, /The mailbox may not send as this From address\./);
    assert.match(list.text, /<svg class="chart"/);
    assert.match(list.text, /<rect class="bar-failed"/);
    assert.match(list.text, /Failed \(2\)/, 'this message and the failed test email of the Test tests (test emails are in the log)');

    const failed = await client.get('/admin/messages?status=failed');
    assert.match(failed.text, /victim@example\.com/);
    assert.doesNotMatch(failed.text, /ok@example\.com/);
    const unknown = await client.get('/admin/messages?status=%3Cx%3E');
    assert.match(unknown.text, /Unknown status &quot;&lt;x&gt;&quot;/);

    const detail = await client.get(`/admin/messages/${message.id}`);
    assert.equal(detail.status, 200);
    assert.match(detail.text, /<li class="t-failed" data-attempt="1">/);
    assert.match(detail.text, /Attempt 1: Failed/);
    assert.match(detail.text, /Add-RecipientPermission/);
    assert.match(detail.text, /Retry delivery/);
    assert.ok(!detail.text.includes(evil));
    assert.equal((await client.get('/admin/messages/not-an-id')).status, 404);

    const retried = await client.post(`/admin/messages/${message.id}/retry`, {});
    assert.equal(retried.status, 303);
    assert.equal((await ctx.svc.store.get(message.id))?.status, 'queued');
    const after = await client.get(retried.location!);
    assert.match(after.text, /queued again for delivery/);
    assert.doesNotMatch(after.text, /Retry delivery/);
    assert.ok((await ctx.svc.store.listAudit(5)).some((e) => e.action === 'message.retry' && e.detail.id === message.id));
    const again = await client.post(`/admin/messages/${message.id}/retry`, {});
    assert.equal(again.status, 303);
    assert.match((await client.get(again.location!)).text, /Only failed messages can be retried/);
  });

  it('API keys: create shows the key once, list shows only the prefix, revoke cuts it off', async () => {
    const invalid = await client.post('/admin/api-keys', { name: 'bad name!', scope: 'send' });
    assert.equal(invalid.status, 422);
    assert.match(invalid.text, /id="key-name-error"/);
    const r = await client.post('/admin/api-keys', { name: 'billing', scope: 'send' });
    assert.equal(r.status, 201);
    const key = /<pre id="new-api-key"><code>(mg_[A-Za-z0-9_-]+)<\/code><\/pre>/.exec(r.text)?.[1];
    assert.ok(key, 'key shown');
    const api = (k: string) => ctx.svc.app.request('/api/v1/messages?limit=1', { headers: { authorization: `Bearer ${k}` } });
    assert.equal((await api(key)).status, 200);
    const list = await client.get('/admin/api-keys');
    assert.ok(!list.text.includes(key), 'never shown again');
    assert.ok(list.text.includes(`${key.slice(0, 7)}…`));
    const dup = await client.post('/admin/api-keys', { name: 'billing', scope: 'send' });
    assert.equal(dup.status, 422);
    assert.match(dup.text, /exists already/);
    const used = await client.get('/admin/api-keys');
    assert.doesNotMatch(/<tr data-key="billing">[\s\S]*?<\/tr>/.exec(used.text)![0], /Never/, 'the key shows when it was last used');
    assert.match(used.text, /<th scope="col">Last used<\/th>/);
    assert.match(used.text, /<th scope="col">Action<\/th>/);
    assert.doesNotMatch(used.text, /<th scope="col">Status<\/th>/);
    // Revoking asks first (a page of its own without JavaScript); only the confirmation revokes.
    const ask = await client.post('/admin/api-keys/revoke', { name: 'billing' });
    assert.equal(ask.status, 200);
    assert.match(ask.text, /Revoke the API key "billing"\?/);
    assert.match(ask.text, /<input type="hidden" name="confirmed" value="yes">/);
    assert.equal((await api(key)).status, 200, 'not revoked before the confirmation');
    const revoked = await client.post('/admin/api-keys/revoke', { name: 'billing', confirmed: 'yes' });
    assert.equal(revoked.status, 303);
    assert.match((await client.get('/admin/api-keys')).text, /API key &quot;billing&quot; revoked\./);
    assert.equal((await api(key)).status, 401);
  });

  it('unknown admin paths get an HTML 404 page', async () => {
    const r = await client.get('/admin/nope');
    assert.equal(r.status, 404);
    assert.match(r.text, /Page not found/);
  });
});

describe('admin: diagnostics without a doctor', () => {
  it('says so and answers 501 instead of failing', async () => {
    const ctx = await startAdmin();
    try {
      const app = createApp({ ...ctx.svc.deps, runDiagnostics: undefined }, { admin: createAdminApp });
      const client = new AdminClient((p, i) => Promise.resolve(app.request(p, i)));
      assert.equal((await client.login()).status, 303);
      const page = await client.get('/admin/diagnostics');
      assert.match(page.text, /Diagnostics are not available/);
      assert.equal((await client.post('/admin/diagnostics', {})).status, 501);
    } finally {
      await ctx.stop();
    }
  });
});

describe('admin: a full data disk', () => {
  it('a save the store refuses for lack of space is 503 with Retry-After and says nothing was saved (not a 500 "something went wrong")', async () => {
    const ctx = await startAdmin();
    try {
      const client = await signedIn(ctx);
      const store = ctx.svc.store as unknown as { saveSettings: (...args: unknown[]) => Promise<unknown> };
      store.saveSettings = async () => {
        throw new StorageFullError();
      };
      const r = await saveValid(client);
      assert.equal(r.status, 503, r.text.slice(0, 300));
      assert.equal(r.headers.get('retry-after'), '30');
      assert.match(r.text, /Nothing was saved: the disk of Mailgate&#39;s data directory is full|Nothing was saved: the disk of Mailgate's data directory is full/);
      assert.ok(!ctx.logs.text().includes('admin page: unhandled error'), 'logged as a bug');
      assert.equal(ctx.svc.settings.secrets().length, 0, 'nothing saved');
    } finally {
      await ctx.stop();
    }
  });
});
