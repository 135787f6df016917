/**
 * The delivery log filtered by sender (issue 16): with several senders the page offers one
 * filter per sender, lists only that sender's messages, and a message's page names its sender.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { appClient, startAdmin, type AdminClient, type AdminCtx } from './helpers.js';

describe('admin delivery log by sender', () => {
  let ctx: AdminCtx;
  let client: AdminClient;
  before(async () => {
    ctx = await startAdmin({ env: { MAILGATE_CLIENT_ID: '3cc0b6a1-1111-4222-8333-444455556666', MAILGATE_TENANT_ID: 'contoso.onmicrosoft.com', MAILGATE_CLIENT_SECRET: 'admin-log-secret-1', MAILGATE_AUTHORIZED_FROM: 'noreply@contoso.com' } });
    client = appClient(ctx);
    assert.equal((await client.login()).status, 303);
    const senders = ctx.svc.deps.senders!;
    assert.ok((await senders.putSender({ address: 'support@contoso.com', signInAs: 'noreply@contoso.com', credential: 'default' }, 'test', { create: true })).ok);
    const outbox = ctx.svc.deps.outbox;
    const req = (subject: string) => ({ payload: { to: ['a@example.com'], subject, text: 't' }, recipientCount: 1 });
    await outbox.submit(req('for support'), { sender: { address: 'support@contoso.com', signInAs: 'noreply@contoso.com' } });
    await outbox.submit(req('for noreply'), { sender: { address: 'noreply@contoso.com', signInAs: 'noreply@contoso.com' } });
  });
  after(async () => {
    await ctx.stop();
  });

  it('offers a filter per sender and lists only that sender\'s messages', async () => {
    const all = await client.get('/admin/messages');
    assert.equal(all.status, 200);
    assert.match(all.text, /aria-label="Filter by sender"/);
    assert.match(all.text, /href="\/admin\/messages\?sender=support%40contoso\.com"/);
    assert.match(all.text, /for support/);
    assert.match(all.text, /for noreply/);
    const one = await client.get('/admin/messages?sender=support%40contoso.com');
    assert.match(one.text, /for support/);
    assert.doesNotMatch(one.text, /for noreply/);
    const id = /data-message="([0-9a-f-]{36})"/.exec(one.text)![1];
    const detail = await client.get(`/admin/messages/${id}`);
    assert.match(detail.text, /Sender \(From\)/);
    assert.match(detail.text, /support@contoso\.com/);
    const bad = await client.get('/admin/messages?sender=%3Cscript%3E');
    assert.equal(bad.status, 200);
    assert.match(bad.text, /That sender is not an address/);
    assert.doesNotMatch(bad.text, /<script>/);
  });
});
