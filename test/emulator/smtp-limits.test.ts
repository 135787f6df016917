// Exchange Online's submission limits: 3 concurrent authenticated connections per mailbox,
// the message rate, recipients per message and message size; and `limits: false`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { fetchToken, RawSmtpClient, waitFor, xoauth2 } from '../helpers/emulator-client.js';

describe('limits', () => {
  let emulator: Emulator;
  let token: string;

  before(async () => {
    emulator = await startEmulator(undefined, { limits: { messagesPerMinute: 3, maxRecipients: 5, maxMessageSize: 2000 } });
    token = await fetchToken(emulator, emulator.demo!.tenantId, emulator.demo!.clientId, emulator.demo!.clientSecret);
  });
  after(() => emulator.stop());

  const user = () => emulator.demo!.authorizedFrom;
  async function authenticated(): Promise<{ client: RawSmtpClient; reply: string }> {
    const client = await RawSmtpClient.connectSecure(emulator.smtp.port, emulator.caPem);
    const reply = await client.send(`AUTH XOAUTH2 ${xoauth2(user(), token)}`);
    return { client, reply };
  }
  async function sendOne(client: RawSmtpClient, rcpts = ['x@example.com'], body = 'hello'): Promise<string> {
    const mail = await client.send(`MAIL FROM:<${user()}>`);
    if (!mail.startsWith('250')) return mail;
    for (const r of rcpts) {
      const reply = await client.send(`RCPT TO:<${r}>`);
      if (!reply.startsWith('250')) return reply;
    }
    await client.send('DATA');
    return client.send(`From: ${user()}\r\nSubject: t\r\n\r\n${body}\r\n.`);
  }

  test('the defaults are Exchange Online\'s', async () => {
    const defaults = await startEmulator();
    try {
      assert.deepEqual(defaults.limits(), {
        messagesPerMinute: 30, maxConnectionsPerMailbox: 3, maxRecipients: 500, maxMessageSize: 35 * 1024 * 1024,
        maxGraphConcurrentRequests: 4, maxGraphRequestBytes: 4 * 1024 * 1024,
      });
    } finally {
      await defaults.stop();
    }
  });

  test('the 4th concurrent authenticated connection for a mailbox gets 432 4.3.2; a slot frees when one closes', async () => {
    emulator.resetStats();
    const sessions = [await authenticated(), await authenticated(), await authenticated()];
    for (const s of sessions) assert.equal(s.reply, '235 2.7.0 Authentication successful');
    const fourth = await authenticated();
    assert.equal(fourth.reply, '432 4.3.2 Concurrent connections limit exceeded.');
    assert.equal(emulator.stats().peakAuthenticatedConnections[user().toLowerCase()], 3);
    sessions[0]!.client.send('QUIT').catch(() => undefined);
    await sessions[0]!.client.closedPromise;
    await waitFor(() => emulator.log().some((e) => e.kind === 'smtp' && e.authenticatedAs !== undefined && e.endedAt !== undefined), 3000, 'the slot to be released');
    assert.equal(await fourth.client.send(`AUTH XOAUTH2 ${xoauth2(user(), token)}`), '235 2.7.0 Authentication successful');
    for (const s of [...sessions, fourth]) s.client.close();
    await waitFor(() => emulator.log().every((e) => e.kind !== 'smtp' || e.endedAt !== undefined), 3000, 'all sessions to end');
  });

  test('unauthenticated connections do not count toward the limit', async () => {
    const idle = await Promise.all([1, 2, 3, 4].map(() => RawSmtpClient.connectSecure(emulator.smtp.port, emulator.caPem)));
    const { client, reply } = await authenticated();
    assert.equal(reply, '235 2.7.0 Authentication successful');
    for (const c of [...idle, client]) c.close();
    await waitFor(() => emulator.log().every((e) => e.kind !== 'smtp' || e.endedAt !== undefined), 3000, 'all sessions to end');
  });

  test('more recipients than allowed: 452 4.5.3 Too many recipients', async () => {
    const { client } = await authenticated();
    const reply = await sendOne(client, ['a@x.com', 'b@x.com', 'c@x.com', 'd@x.com', 'e@x.com', 'f@x.com']);
    assert.equal(reply, '452 4.5.3 Too many recipients');
    client.close();
  });

  test('a message over the size limit: 552 5.3.4 at the end of DATA, and at MAIL FROM when SIZE= says so', async () => {
    const { client } = await authenticated();
    assert.equal(await sendOne(client, ['x@example.com'], 'x'.repeat(5000)), '552 5.3.4 Message size exceeds fixed maximum message size');
    assert.equal(await client.send(`MAIL FROM:<${user()}> SIZE=999999`), '552 5.3.4 Message size exceeds fixed maximum message size');
    client.close();
  });

  test('over the message rate (3/min here) MAIL FROM gets a transient 4xx; the sliding window counts accepted messages', async () => {
    const { client } = await authenticated();
    const accepted = emulator.stats().messagesAccepted;
    const replies: string[] = [];
    for (let i = 0; i < 4; i++) replies.push(await sendOne(client));
    assert.equal(emulator.stats().messagesAccepted - accepted, 3);
    assert.match(replies[3]!, /^4\d\d 4\.\d\.\d /);
    assert.equal(replies[3], '450 4.7.0 Message submission rate for this client has exceeded the configured limit');
    client.close();
  });

  test('limits: false lifts every limit (fast sink)', async () => {
    const sink = await startEmulator(undefined, { limits: false });
    try {
      const t = await fetchToken(sink, sink.demo!.tenantId, sink.demo!.clientId, sink.demo!.clientSecret);
      const clients = await Promise.all([1, 2, 3, 4, 5].map(() => RawSmtpClient.connectSecure(sink.smtp.port, sink.caPem)));
      for (const c of clients) assert.equal(await c.send(`AUTH XOAUTH2 ${xoauth2(sink.demo!.authorizedFrom, t)}`), '235 2.7.0 Authentication successful');
      const c = clients[0]!;
      for (let i = 0; i < 40; i++) {
        await c.send(`MAIL FROM:<${sink.demo!.authorizedFrom}>`);
        await c.send('RCPT TO:<x@example.com>');
        await c.send('DATA');
        assert.match(await c.send(`Subject: ${i}\r\n\r\n${'y'.repeat(i === 0 ? 40 * 1024 * 1024 / 40 : 10)}\r\n.`), /^250 /);
      }
      assert.equal(sink.stats().peakAuthenticatedConnections[sink.demo!.authorizedFrom], 5);
      for (const client of clients) client.close();
    } finally {
      await sink.stop();
    }
  });
});
