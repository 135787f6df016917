// Scripted faults: token endpoint 503/429 with Retry-After and slow answers, the SMTP greeting
// that never comes, a connection dropped in the middle of DATA, transient 421/451 replies.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { fetchToken, httpsRequest, postTokenForm, RawSmtpClient, xoauth2 } from '../helpers/emulator-client.js';

describe('faults', () => {
  let emulator: Emulator;
  let token: string;

  before(async () => {
    emulator = await startEmulator(undefined, { limits: false });
    token = await fetchToken(emulator, emulator.demo!.tenantId, emulator.demo!.clientId, emulator.demo!.clientSecret);
  });
  afterEach(() => emulator.clearFaults());
  after(() => emulator.stop());

  const demo = () => emulator.demo!;
  const tokenForm = () => ({ grant_type: 'client_credentials', client_id: demo().clientId, client_secret: demo().clientSecret, scope: 'https://outlook.office365.com/.default' });
  const requestToken = () => postTokenForm(emulator, demo().tenantId, tokenForm());

  test('tokenError 503 for the next 2 requests, with Retry-After; the third succeeds', async () => {
    emulator.setFaults({ tokenError: { status: 503, count: 2, retryAfterSeconds: 7 } });
    for (let i = 0; i < 2; i++) {
      const res = await requestToken();
      assert.equal(res.status, 503);
      assert.equal(res.headers['retry-after'], '7');
      assert.equal(res.json().error, 'temporarily_unavailable');
      assert.match(res.json().error_description, /^AADSTS\d+: /);
    }
    assert.equal((await requestToken()).status, 200);
    assert.deepEqual(emulator.faults(), {});
  });

  test('tokenError 429 (default Retry-After 1) until cleared when no count is given', async () => {
    emulator.setFaults({ tokenError: { status: 429 } });
    for (let i = 0; i < 3; i++) {
      const res = await requestToken();
      assert.equal(res.status, 429);
      assert.equal(res.headers['retry-after'], '1');
    }
    emulator.clearFaults();
    assert.equal((await requestToken()).status, 200);
  });

  test('tokenDelay answers slowly', async () => {
    emulator.setFaults({ tokenDelay: { ms: 300, count: 1 } });
    const started = Date.now();
    assert.equal((await requestToken()).status, 200);
    assert.ok(Date.now() - started >= 290);
    const again = Date.now();
    await requestToken();
    assert.ok(Date.now() - again < 250);
  });

  test('smtpNoGreeting: the greeting never comes (nodemailer times out); the next connection is greeted', async () => {
    emulator.setFaults({ smtpNoGreeting: { count: 1 } });
    const transport = nodemailer.createTransport({
      host: emulator.smtp.host, port: emulator.smtp.port, secure: false, requireTLS: true, greetingTimeout: 300,
      tls: { ca: [emulator.caPem], servername: 'localhost' }, auth: { type: 'OAuth2', user: demo().authorizedFrom, accessToken: token },
    });
    await assert.rejects(transport.verify(), (err: any) => err.code === 'ETIMEDOUT' || /Greeting never received/i.test(err.message));
    transport.close();
    const c = await RawSmtpClient.connect(emulator.smtp.port);
    assert.match(await c.readReply(), /^220 /);
    c.close();
  });

  test('smtpNoGreeting: a client that talks anyway gets no answer at all', async () => {
    emulator.setFaults({ smtpNoGreeting: {} });
    const c = await RawSmtpClient.connect(emulator.smtp.port);
    c.write('EHLO client.example\r\n');
    await assert.rejects(c.readReply(300), /no reply/);
    c.close();
  });

  test('smtpDropInData: the connection drops in the middle of DATA, no reply, nothing stored', async () => {
    emulator.setFaults({ smtpDropInData: { count: 1 } });
    const before = emulator.messages().length;
    const c = await RawSmtpClient.connectSecure(emulator.smtp.port, emulator.caPem);
    await c.send(`AUTH XOAUTH2 ${xoauth2(demo().authorizedFrom, token)}`);
    await c.send(`MAIL FROM:<${demo().authorizedFrom}>`);
    await c.send('RCPT TO:<x@example.com>');
    assert.match(await c.send('DATA'), /^354 /);
    c.write(`From: ${demo().authorizedFrom}\r\nSubject: dropped\r\n\r\nbody\r\n.\r\n`);
    await assert.rejects(c.readReply(2000), /closed/);
    assert.equal(emulator.messages().length, before);
    const next = await RawSmtpClient.connectSecure(emulator.smtp.port, emulator.caPem);
    assert.equal(await next.send(`AUTH XOAUTH2 ${xoauth2(demo().authorizedFrom, token)}`), '235 2.7.0 Authentication successful');
    next.close();
  });

  test('smtpDropInData: nodemailer reports a connection error', async () => {
    emulator.setFaults({ smtpDropInData: { count: 1 } });
    const transport = nodemailer.createTransport({
      host: emulator.smtp.host, port: emulator.smtp.port, secure: false, requireTLS: true, forceAuth: true,
      tls: { ca: [emulator.caPem], servername: 'localhost' }, auth: { type: 'OAuth2', user: demo().authorizedFrom, accessToken: token },
    });
    await assert.rejects(transport.sendMail({ from: demo().authorizedFrom, to: 'x@example.com', subject: 's', text: 'x'.repeat(10_000) }));
    transport.close();
  });

  test('smtpTransient 451 for the next MAIL command only', async () => {
    emulator.setFaults({ smtpTransient: { code: 451, count: 1, command: 'MAIL' } });
    const c = await RawSmtpClient.connectSecure(emulator.smtp.port, emulator.caPem);
    assert.equal(await c.send(`AUTH XOAUTH2 ${xoauth2(demo().authorizedFrom, token)}`), '235 2.7.0 Authentication successful');
    assert.match(await c.send(`MAIL FROM:<${demo().authorizedFrom}>`), /^451 4\.7\.0 Temporary server error\. Please try again later\. PRX4 \[[A-Za-z0-9.]+\.prod\.outlook\.com\]$/);
    assert.equal(await c.send(`MAIL FROM:<${demo().authorizedFrom}>`), '250 2.1.0 Sender OK');
    c.close();
  });

  test('smtpTransient 421 for the next command closes the connection (Service not active)', async () => {
    const c = await RawSmtpClient.connect(emulator.smtp.port);
    await c.readReply();
    emulator.setFaults({ smtpTransient: { code: 421, count: 1 } });
    assert.match(await c.send('EHLO client.example'), /^421 4\.3\.2 Service not active \[/);
    await c.closedPromise;
  });

  test('smtpTransient with a custom message, at the end of the message (EOM)', async () => {
    emulator.setFaults({ smtpTransient: { code: 451, count: 1, command: 'EOM', message: '4.4.1 Try later' } });
    const c = await RawSmtpClient.connectSecure(emulator.smtp.port, emulator.caPem);
    await c.send(`AUTH XOAUTH2 ${xoauth2(demo().authorizedFrom, token)}`);
    await c.send(`MAIL FROM:<${demo().authorizedFrom}>`);
    await c.send('RCPT TO:<x@example.com>');
    await c.send('DATA');
    assert.equal(await c.send(`From: ${demo().authorizedFrom}\r\nSubject: s\r\n\r\nb\r\n.`), '451 4.4.1 Try later');
    c.close();
  });

  test('faults over the admin API: POST sets, GET shows remaining counts, DELETE clears, bad faults are a 400', async () => {
    const post = await httpsRequest(`${emulator.admin}/faults`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ tokenError: { status: 503, count: 2 } }), ca: emulator.caPem });
    assert.equal(post.status, 200);
    assert.equal((await requestToken()).status, 503);
    const remaining = await httpsRequest(`${emulator.admin}/faults`, { ca: emulator.caPem });
    assert.deepEqual(remaining.json(), { tokenError: { status: 503, count: 1 } });
    assert.equal((await httpsRequest(`${emulator.admin}/faults`, { method: 'DELETE', ca: emulator.caPem })).status, 204);
    assert.equal((await requestToken()).status, 200);
    const bad = await httpsRequest(`${emulator.admin}/faults`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ tokenError: { status: 200 }, bogus: 1 }), ca: emulator.caPem });
    assert.equal(bad.status, 400);
    assert.equal(bad.json().error, 'invalid_faults');
    assert.ok(bad.json().problems.length >= 2);
    const notJson = await httpsRequest(`${emulator.admin}/faults`, { method: 'POST', body: '{', ca: emulator.caPem });
    assert.equal(notJson.status, 400);
    assert.throws(() => emulator.setFaults({ smtpTransient: { code: 550 } } as never), /Invalid faults/);
  });
});
