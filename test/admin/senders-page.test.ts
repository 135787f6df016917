/**
 * The admin page's "Senders" tab (issue 16 item 4), through the real admin app with sessions and
 * CSRF and the real SendersService on SQLite: the list (Send As marked, budget, last delivery,
 * source), credentials write-only (the secret never echoed; a moved destination needs it again),
 * senders added, edited and deleted (confirmation first; refused with the service's explanation
 * while messages are queued), forms without the CSRF token change nothing, addresses are
 * HTML-escaped, and MAILGATE_CONFIG senders are read-only.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../service/helpers.js';
import { appClient, startAdmin, type AdminClient, type AdminCtx } from './helpers.js';

const CLIENT = '3cc0b6a1-1111-4222-8333-444455556666';
const FABRIKAM_SECRET = 'Fabrikam~page-secret_0123456789abcdef';
const NEW_SECRET = 'Fabrikam~second-secret_9876543210';

describe('admin page: Senders', () => {
  let ctx: AdminCtx;
  let client: AdminClient;
  before(async () => {
    ctx = await startAdmin({ env: { MAILGATE_CLIENT_ID: CLIENT, MAILGATE_TENANT_ID: 'contoso.onmicrosoft.com', MAILGATE_CLIENT_SECRET: 'senders-page-default-secret', MAILGATE_AUTHORIZED_FROM: 'noreply@contoso.com' } });
    client = appClient(ctx);
    assert.equal((await client.login()).status, 303);
  });
  after(async () => {
    await ctx.stop();
  });

  it('is a tab; lists the default sender (linking to the Email Settings) and its credential', async () => {
    const r = await client.get('/admin/senders');
    assert.equal(r.status, 200);
    assert.match(r.text, /<a href="\/admin\/senders" aria-current="page">Senders<\/a>/);
    const row = /<tr data-sender="noreply@contoso\.com" data-source="settings">[\s\S]*?<\/tr>/.exec(r.text)?.[0] ?? '';
    assert.ok(row, 'the default sender is listed');
    assert.match(row, /default/);
    assert.match(row, /href="\/admin\/settings"/);
    assert.match(row, /data-budget>0 \/ 10000</);
    assert.match(row, /None yet/);
    assert.doesNotMatch(row, /Delete/);
    assert.match(r.text, /<tr data-credential="default" data-source="settings">/);
    assert.ok(!r.text.includes('senders-page-default-secret'));
  });

  it('refuses forms without the CSRF token and changes nothing', async () => {
    const r = await client.post('/admin/senders/credential', { mode: 'create', name: 'fabrikam', tenantId: 'fabrikam.onmicrosoft.com', clientId: CLIENT, clientSecret: FABRIKAM_SECRET }, { csrf: false });
    assert.equal(r.status, 403);
    assert.ok(!ctx.svc.deps.senders!.credentials().some((c) => c.name === 'fabrikam'));
    const s = await client.post('/admin/senders/sender', { mode: 'create', address: 'billing@contoso.com', credential: 'default' }, { csrf: 'wrong-token' });
    assert.equal(s.status, 403);
    assert.equal(ctx.svc.deps.senders!.get('billing@contoso.com'), undefined);
  });

  it('adds a credential with a write-only secret; a moved destination needs the secret again', async () => {
    const r = await client.post('/admin/senders/credential', { mode: 'create', name: 'fabrikam', cloud: 'global', tenantId: 'fabrikam.onmicrosoft.com', clientId: CLIENT, clientSecret: FABRIKAM_SECRET });
    assert.equal(r.status, 303);
    const list = await client.get('/admin/senders');
    assert.match(list.text, /Credential fabrikam added\./);
    const row = /<tr data-credential="fabrikam" data-source="stored">[\s\S]*?<\/tr>/.exec(list.text)?.[0] ?? '';
    assert.match(row, /Client secret \(set\)/);
    assert.ok(!list.text.includes(FABRIKAM_SECRET), 'the secret is never shown');
    const edit = await client.get('/admin/senders/credential?name=fabrikam');
    assert.equal(edit.status, 200);
    assert.match(edit.text, /<input type="password" id="edit-credential-clientSecret" name="clientSecret"[^>]* value="">/);
    assert.ok(!edit.text.includes(FABRIKAM_SECRET));
    // Moving the SMTP host without the secret: refused with the service's explanation at the field.
    const moved = await client.post('/admin/senders/credential', { mode: 'update', name: 'fabrikam', cloud: 'global', tenantId: 'fabrikam.onmicrosoft.com', clientId: CLIENT, smtpHost: 'smtp.elsewhere.example' });
    assert.equal(moved.status, 422);
    assert.match(moved.text, /id="edit-credential-clientSecret-error"[^>]*>[\s\S]*?enter clientSecret again/);
    assert.equal(ctx.svc.deps.senders!.credentials().find((c) => c.name === 'fabrikam')?.smtpHost, undefined);
    // A failed submit never echoes a typed secret either.
    const bad = await client.post('/admin/senders/credential', { mode: 'update', name: 'fabrikam', cloud: 'global', tenantId: 'not a tenant!', clientId: CLIENT, clientSecret: NEW_SECRET });
    assert.equal(bad.status, 422);
    assert.ok(!bad.text.includes(NEW_SECRET));
    const ok = await client.post('/admin/senders/credential', { mode: 'update', name: 'fabrikam', cloud: 'global', tenantId: 'fabrikam.onmicrosoft.com', clientId: CLIENT, smtpHost: 'smtp.elsewhere.example', clientSecret: NEW_SECRET });
    assert.equal(ok.status, 303);
    assert.equal(ctx.svc.deps.senders!.credentials().find((c) => c.name === 'fabrikam')?.smtpHost, 'smtp.elsewhere.example');
    assert.ok(!ctx.logs.lines.some((l) => l.includes(FABRIKAM_SECRET) || l.includes(NEW_SECRET)), 'no secret in the log');
  });

  it('adds a Send As sender, edits its limits, and shows its budget', async () => {
    const r = await client.post('/admin/senders/sender', { mode: 'create', address: 'Support@Contoso.com', signInAs: 'noreply@contoso.com', credential: 'default', transport: '', ratePerMinute: '20', maxConnections: '', dailyRecipients: '500' });
    assert.equal(r.status, 303);
    const s = ctx.svc.deps.senders!.get('support@contoso.com');
    assert.equal(s?.signInAs, 'noreply@contoso.com');
    assert.equal(s?.ratePerMinute, 20);
    const list = await client.get('/admin/senders');
    const row = /<tr data-sender="support@contoso\.com" data-source="stored">[\s\S]*?<\/tr>/.exec(list.text)?.[0] ?? '';
    assert.match(row, /data-send-as>Send As</);
    assert.match(row, /data-budget>0 \/ 500</);
    assert.match(row, /href="\/admin\/senders\/sender\?address=support%40contoso\.com"/);
    const edit = await client.get('/admin/senders/sender?address=support%40contoso.com');
    assert.match(edit.text, /id="edit-sender-address" name="address"[^>]* readonly/);
    assert.match(edit.text, /id="edit-sender-ratePerMinute"[^>]* value="20"/);
    const notNumber = await client.post('/admin/senders/sender', { mode: 'update', address: 'support@contoso.com', signInAs: 'noreply@contoso.com', credential: 'default', maxConnections: 'lots' });
    assert.equal(notNumber.status, 422);
    assert.match(notNumber.text, /maxConnections: must be a whole number/);
    const tooMany = await client.post('/admin/senders/sender', { mode: 'update', address: 'support@contoso.com', signInAs: 'noreply@contoso.com', credential: 'default', maxConnections: '4' });
    assert.equal(tooMany.status, 422);
    assert.match(tooMany.text, /id="edit-sender-maxConnections-error"[^>]*>[\s\S]*?must be 1, 2 or 3/);
    const saved = await client.post('/admin/senders/sender', { mode: 'update', address: 'support@contoso.com', signInAs: 'noreply@contoso.com', credential: 'fabrikam', maxConnections: '2' });
    assert.equal(saved.status, 303);
    assert.equal(ctx.svc.deps.senders!.get('support@contoso.com')?.credential, 'fabrikam');
    assert.equal(ctx.svc.deps.senders!.get('support@contoso.com')?.maxConnections, 2);
  });

  it('escapes addresses: a rejected one comes back escaped, an accepted one with a quote too', async () => {
    const evil = '<script>alert(1)</script>@contoso.com';
    const r = await client.post('/admin/senders/sender', { mode: 'create', address: evil, credential: 'default' });
    assert.equal(r.status, 422);
    assert.ok(!r.text.includes('<script>alert(1)'), 'not rendered as markup');
    assert.match(r.text, /value="&lt;script&gt;alert\(1\)&lt;\/script&gt;@contoso\.com"/);
    const quote = await client.post('/admin/senders/sender', { mode: 'create', address: "o'brien@contoso.com", credential: 'default' });
    if (quote.status === 303) {
      const list = await client.get('/admin/senders');
      assert.match(list.text, /data-sender="o&#39;brien@contoso\.com"/);
      assert.ok(!list.text.includes("data-sender=\"o'brien"));
    } else {
      assert.equal(quote.status, 422);
      assert.match(quote.text, /value="o&#39;brien@contoso\.com"/);
    }
  });

  it('deletes after a confirmation; refuses while messages are queued, with the reason', async () => {
    await ctx.svc.deps.outbox.submit({ payload: { to: ['a@example.com'], subject: 'queued for support', text: 't' }, recipientCount: 1 }, { sender: { address: 'support@contoso.com', signInAs: 'noreply@contoso.com' } });
    const ask = await client.post('/admin/senders/sender/delete', { address: 'support@contoso.com' });
    assert.equal(ask.status, 200);
    assert.match(ask.text, /data-confirm-delete="support@contoso\.com"/);
    assert.ok(ctx.svc.deps.senders!.get('support@contoso.com'), 'not deleted without confirmation');
    const refused = await client.post('/admin/senders/sender/delete', { address: 'support@contoso.com', confirmed: 'yes' });
    assert.equal(refused.status, 303);
    const after1 = await client.get('/admin/senders');
    assert.match(after1.text, /was not deleted: support@contoso\.com has queued messages/);
    const row = /<tr data-sender="support@contoso\.com"[\s\S]*?<\/tr>/.exec(after1.text)?.[0] ?? '';
    assert.match(row, /badge-queued/, 'its last delivery status');
    // A credential used by a sender is not deleted either.
    await client.post('/admin/senders/credential/delete', { name: 'fabrikam', confirmed: 'yes' });
    assert.ok(ctx.svc.deps.senders!.credentials().some((c) => c.name === 'fabrikam'));
    // The default sender cannot be deleted here.
    await client.post('/admin/senders/sender/delete', { address: 'noreply@contoso.com', confirmed: 'yes' });
    assert.ok(ctx.svc.deps.senders!.get('noreply@contoso.com'));
    // Fail the queued message, then the sender goes.
    const now = ctx.svc.deps.now();
    for (const m of await ctx.svc.store.claim({ owner: 'test', limit: 10, now, leaseMs: 60_000 })) {
      assert.ok(await ctx.svc.store.markFailed(m.lease, { at: now, outcome: 'failed', reply: 'failed by the test', code: 'TEST' }));
    }
    const done = await client.post('/admin/senders/sender/delete', { address: 'support@contoso.com', confirmed: 'yes' });
    assert.equal(done.status, 303);
    assert.equal(ctx.svc.deps.senders!.get('support@contoso.com'), undefined);
  });
});

describe('admin page: Senders from MAILGATE_CONFIG', () => {
  it('shows the file\'s senders and credentials read-only and refuses writes', async () => {
    const t = tempDir('mailgate-senders-file-');
    const file = join(t.dir, 'mailgate.yaml');
    writeFileSync(file, `credentials:\n  - name: contoso\n    tenantId: contoso.onmicrosoft.com\n    clientId: ${CLIENT}\n    clientSecret: env:CONTOSO_SECRET\nsenders:\n  - address: noreply@contoso.com\n    credential: contoso\n  - address: support@contoso.com\n    signInAs: noreply@contoso.com\n    credential: contoso\n`);
    const ctx = await startAdmin({ env: { MAILGATE_CONFIG: file, CONTOSO_SECRET: 'file-contoso-secret-value' } });
    try {
      const client = appClient(ctx);
      assert.equal((await client.login()).status, 303);
      const r = await client.get('/admin/senders');
      assert.equal(r.status, 200);
      assert.match(r.text, /data-from-file/);
      assert.match(r.text, /<tr data-sender="support@contoso\.com" data-source="file">[\s\S]*?Read-only \(MAILGATE_CONFIG\)/);
      assert.match(r.text, /<tr data-credential="contoso" data-source="file">/);
      assert.match(r.text, /Client secret \(env:CONTOSO_SECRET\)/);
      assert.doesNotMatch(r.text, /data-add-sender|data-add-credential/, 'no add forms');
      assert.ok(!r.text.includes('file-contoso-secret-value'));
      const edit = await client.get('/admin/senders/sender?address=support%40contoso.com');
      assert.equal(edit.status, 303);
      const del = await client.post('/admin/senders/sender/delete', { address: 'support@contoso.com', confirmed: 'yes' });
      assert.equal(del.status, 303);
      assert.ok(ctx.svc.deps.senders!.get('support@contoso.com'));
      const add = await client.post('/admin/senders/sender', { mode: 'create', address: 'billing@contoso.com', credential: 'contoso' });
      assert.equal(add.status, 409);
      assert.match(add.text, /configured by MAILGATE_CONFIG/);
      assert.equal(ctx.svc.deps.senders!.get('billing@contoso.com'), undefined);
    } finally {
      await ctx.stop();
      t.remove();
    }
  });
});

describe('admin page: a sender\'s Test and Diagnostics', () => {
  let ctx: AdminCtx;
  let client: AdminClient;
  const diagnosticsCalls: { to?: string; sender?: string }[] = [];
  const report = {
    ok: false,
    sender: { from: 'support@contoso.com', signInAs: 'noreply@contoso.com' },
    checks: [
      { id: 'settings', status: 'pass', summary: 'The settings are complete.' },
      { id: 'send-as', status: 'fail', summary: 'noreply@contoso.com may not send as support@contoso.com <b>x</b>', commands: ['Add-RecipientPermission -Identity support@contoso.com -Trustee noreply@contoso.com -AccessRights SendAs'] },
    ],
  };
  before(async () => {
    ctx = await startAdmin({
      env: { MAILGATE_CLIENT_ID: CLIENT, MAILGATE_TENANT_ID: 'contoso.onmicrosoft.com', MAILGATE_CLIENT_SECRET: 'senders-check-default-secret', MAILGATE_AUTHORIZED_FROM: 'noreply@contoso.com' },
      service: { runDiagnostics: async (input) => (diagnosticsCalls.push(input), report) },
    });
    client = appClient(ctx);
    assert.equal((await client.login()).status, 303);
    assert.ok((await ctx.svc.deps.senders!.putSender({ address: 'support@contoso.com', signInAs: 'noreply@contoso.com', credential: 'default' }, 'test', { create: true })).ok);
  });
  after(async () => {
    await ctx.stop();
  });

  it('Test sends as the sender (Send As: its From, signed in as its mailbox) and records it under the sender', async () => {
    const list = await client.get('/admin/senders');
    assert.match(list.text, /href="\/admin\/senders\/check\?address=support%40contoso\.com"/);
    const pageText = (await client.get('/admin/senders/check?address=support%40contoso.com')).text;
    assert.match(pageText, /signed in as <strong>noreply@contoso\.com<\/strong> \(Send As\)/);
    const noToken = await client.post('/admin/senders/check/test', { address: 'support@contoso.com', to: 'me@example.com' }, { csrf: false });
    assert.equal(noToken.status, 403);
    const before = ctx.mailer.calls.length;
    assert.equal(before, 0, 'nothing sent without the CSRF token');
    const r = await client.post('/admin/senders/check/test', { address: 'support@contoso.com', to: 'me@example.com' });
    assert.equal(r.status, 200);
    assert.match(r.text, /data-outcome="success"/);
    const sent = ctx.mailer.calls.at(-1)!;
    assert.equal(sent.from, 'support@contoso.com');
    assert.deepEqual(sent.to, ['me@example.com']);
    const logged = await ctx.svc.store.list({ sender: 'support@contoso.com', limit: 5 });
    assert.equal(logged.items[0]?.test, true);
    assert.equal(logged.items[0]?.mailbox, 'noreply@contoso.com');
    // The default sender's test has no Send As From.
    await client.post('/admin/senders/check/test', { address: 'noreply@contoso.com', to: 'me@example.com' });
    assert.equal(ctx.mailer.calls.at(-1)!.from, undefined);
  });

  it('Diagnostics run the doctor as the sender and show its report escaped', async () => {
    const r = await client.post('/admin/senders/check/diagnostics', { address: 'support@contoso.com', to: '' });
    assert.equal(r.status, 200);
    assert.deepEqual(diagnosticsCalls.at(-1), { to: undefined, sender: 'support@contoso.com' });
    assert.match(r.text, /data-check="send-as" data-status="fail"/);
    assert.match(r.text, /&lt;b&gt;x&lt;\/b&gt;/);
    assert.match(r.text, /Add-RecipientPermission -Identity support@contoso\.com -Trustee noreply@contoso\.com/);
    const unknown = await client.post('/admin/senders/check/diagnostics', { address: 'nobody@contoso.com' });
    assert.equal(unknown.status, 303);
  });
});
