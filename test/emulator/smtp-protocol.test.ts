// The SMTP dialogue of the emulated Exchange Online front end, byte-exact over raw sockets:
// greeting (and its timing), EHLO before/after STARTTLS, AUTH before TLS, MAIL before AUTH,
// the two XOAUTH2 forms, garbage, long lines and other bad input that must never crash it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { fetchToken, RawSmtpClient, xoauth2 } from '../helpers/emulator-client.js';

const GREETING = /^220 [A-Z]{2}\dPR\d\dCA\d{4}\.outlook\.office365\.com Microsoft ESMTP MAIL Service ready at (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000$/;

describe('SMTP dialogue', () => {
  let emulator: Emulator;
  let token: string;
  const clients: RawSmtpClient[] = [];

  before(async () => {
    // Limits are tested in smtp-limits.test.ts; here many sessions authenticate as one mailbox.
    emulator = await startEmulator(undefined, { limits: false });
    token = await fetchToken(emulator, emulator.demo!.tenantId, emulator.demo!.clientId, emulator.demo!.clientSecret);
  });
  after(async () => {
    for (const c of clients) c.close();
    await emulator.stop();
  });

  const connect = async () => {
    const c = await RawSmtpClient.connect(emulator.smtp.port);
    clients.push(c);
    return c;
  };
  const secure = async () => {
    const c = await RawSmtpClient.connectSecure(emulator.smtp.port, emulator.caPem);
    clients.push(c);
    return c;
  };

  test('the greeting is Exchange\'s (no early-talker delay by default: greetingDelayMs is 0)', async () => {
    // No elapsed-time assertion: timing in tests flakes under load; the delay option's own test
    // below shows the delay exists only when asked for.
    const c = await connect();
    const greeting = await c.readReply();
    assert.match(greeting, GREETING);
  });

  test('greetingDelayMs restores an early-talker delay when asked for', async () => {
    const slow = await startEmulator(undefined, { greetingDelayMs: 250 });
    try {
      const started = Date.now();
      const c = await RawSmtpClient.connect(slow.smtp.port);
      await c.readReply();
      assert.ok(Date.now() - started >= 240);
      c.close();
    } finally {
      await slow.stop();
    }
  });

  test('EHLO before TLS offers STARTTLS and no AUTH', async () => {
    const c = await connect();
    await c.readReply();
    const ehlo = await c.send('EHLO client.example');
    const lines = ehlo.split('\n');
    assert.match(lines[0]!, /^250-[A-Z0-9]+\.outlook\.office365\.com Hello \[127\.0\.0\.1\]$/);
    assert.deepEqual(lines.slice(1), ['250-SIZE 157286400', '250-PIPELINING', '250-DSN', '250-ENHANCEDSTATUSCODES', '250-STARTTLS', '250-8BITMIME', '250-CHUNKING', '250 SMTPUTF8']);
  });

  test('STARTTLS answers 220 2.0.0 SMTP server ready; EHLO after TLS offers AUTH LOGIN XOAUTH2 and no STARTTLS', async () => {
    const c = await connect();
    await c.readReply();
    await c.send('EHLO client.example');
    assert.equal(await c.startTls(emulator.caPem), '220 2.0.0 SMTP server ready');
    const lines = (await c.send('EHLO client.example')).split('\n');
    assert.deepEqual(lines.slice(1), ['250-SIZE 157286400', '250-PIPELINING', '250-DSN', '250-ENHANCEDSTATUSCODES', '250-AUTH LOGIN XOAUTH2', '250-8BITMIME', '250-CHUNKING', '250 SMTPUTF8']);
  });

  test('AUTH before TLS is refused, even with a valid token, and the log says TLS was not active', async () => {
    const c = await connect();
    await c.readReply();
    await c.send('EHLO client.example');
    assert.equal(await c.send(`AUTH XOAUTH2 ${xoauth2(emulator.demo!.authorizedFrom, token)}`), '504 5.7.4 Unrecognized authentication type');
    const session = emulator.log().find((e) => e.kind === 'smtp' && e.auth.some((a) => !a.tlsActive));
    assert.ok(session && session.kind === 'smtp');
    assert.equal(JSON.stringify(session).includes(token), false);
  });

  test('MAIL FROM without AUTH: 530 5.7.57 Client not authenticated to send mail.', async () => {
    const c = await secure();
    assert.equal(await c.send(`MAIL FROM:<${emulator.demo!.authorizedFrom}>`), '530 5.7.57 Client not authenticated to send mail.');
  });

  test('XOAUTH2 as an initial response (SASL-IR): 235 2.7.0 Authentication successful', async () => {
    const c = await secure();
    assert.equal(await c.send(`AUTH XOAUTH2 ${xoauth2(emulator.demo!.authorizedFrom, token)}`), '235 2.7.0 Authentication successful');
  });

  test('XOAUTH2 in two steps: AUTH XOAUTH2, "334 ", then the base64 line', async () => {
    const c = await secure();
    assert.equal(await c.send('AUTH XOAUTH2'), '334 ');
    assert.equal(await c.send(xoauth2(emulator.demo!.authorizedFrom, token)), '235 2.7.0 Authentication successful');
    const session = emulator.log().filter((e) => e.kind === 'smtp').at(-1);
    assert.ok(session?.kind === 'smtp' && session.commands.some((cmd) => cmd.command === '<redacted>'));
  });

  test('garbage XOAUTH2 data: 501 5.5.124 Invalid XOAUTH2 auth data (and the session goes on)', async () => {
    const c = await secure();
    for (const blob of ['!!!not-base64!!!', Buffer.from('hello world').toString('base64'), Buffer.from('user=\x01auth=Bearer \x01\x01').toString('base64'), 'abc']) {
      assert.equal(await c.send(`AUTH XOAUTH2 ${blob}`), '501 5.5.124 Invalid XOAUTH2 auth data');
    }
    assert.equal(await c.send('AUTH XOAUTH2'), '334 ');
    assert.equal(await c.send('%%%%'), '501 5.5.124 Invalid XOAUTH2 auth data');
    assert.equal(await c.send(`AUTH XOAUTH2 ${xoauth2(emulator.demo!.authorizedFrom, token)}`), '235 2.7.0 Authentication successful');
  });

  test('a 16 KB AUTH line is read in full (real tokens are 2 KB+)', async () => {
    const c = await secure();
    const padded = `${token}${'A'.repeat(12_000)}`; // breaks the signature, but must be parsed, not cut
    const line = `AUTH XOAUTH2 ${xoauth2(emulator.demo!.authorizedFrom, padded)}`;
    assert.ok(line.length >= 16_000);
    assert.match(await c.send(line), /^535 5\.7\.3 Authentication unsuccessful \[/);
  });

  test('an over-long line closes that connection with a 421; other connections keep working', async () => {
    const other = await secure();
    const c = await connect();
    await c.readReply();
    c.write(`EHLO ${'x'.repeat(200_000)}\r\n`);
    assert.match(await c.readReply(), /^421 /);
    await c.closedPromise;
    assert.equal(await other.send(`AUTH XOAUTH2 ${xoauth2(emulator.demo!.authorizedFrom, token)}`), '235 2.7.0 Authentication successful');
  });

  test('malformed commands get SMTP errors, never a crash', async () => {
    const c = await connect();
    await c.readReply();
    assert.equal(await c.send('FOO BAR'), '500 5.3.3 Unrecognized command');
    assert.equal(await c.send('EHLO'), '501 5.5.4 Invalid domain name');
    assert.equal(await c.send('MAIL FROM:<x@example.com>'), '503 5.5.2 Send hello first');
    assert.equal(await c.send('EHLO client.example').then((r) => r.slice(0, 4)), '250-');
    assert.match(await c.send('\u0000\u0001\u00ff'), /^5\d\d /);
    assert.match(await c.send(''), /^5\d\d /);
    assert.equal(await c.send('NOOP'), '250 2.0.0 OK');
    const tls = await secure();
    assert.equal(await tls.send('AUTH'), '504 5.7.4 Unrecognized authentication type');
    assert.equal(await tls.send('AUTH CRAM-MD5'), '504 5.7.4 Unrecognized authentication type');
    assert.equal(await tls.send('STARTTLS'), '503 5.5.1 Bad sequence of commands');
    assert.equal(await tls.send('RCPT TO:<a@b.c>'), '530 5.7.57 Client not authenticated to send mail.');
  });

  test('an HTTP request on the SMTP port is refused and closed', async () => {
    const c = await connect();
    await c.readReply();
    assert.match(await c.send('GET / HTTP/1.1'), /^421 /);
    await c.closedPromise;
  });

  test('a client that vanishes mid-TLS-handshake or mid-DATA leaves the server serving', async () => {
    const c1 = await connect();
    await c1.readReply();
    await c1.send('EHLO client.example');
    c1.write('STARTTLS\r\n');
    c1.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 1, 2, 3])); // half a ClientHello
    c1.close();
    const c2 = await secure();
    await c2.send(`AUTH XOAUTH2 ${xoauth2(emulator.demo!.authorizedFrom, token)}`);
    await c2.send(`MAIL FROM:<${emulator.demo!.authorizedFrom}>`);
    await c2.send('RCPT TO:<someone@example.com>');
    assert.match(await c2.send('DATA'), /^354 /);
    c2.write('Subject: half\r\n\r\nhalf a mess');
    c2.close();
    const c3 = await secure();
    assert.equal(await c3.send(`AUTH XOAUTH2 ${xoauth2(emulator.demo!.authorizedFrom, token)}`), '235 2.7.0 Authentication successful');
  });
});
