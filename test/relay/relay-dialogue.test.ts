/**
 * The relay's SMTP dialogue (issue 14 §3), reply for reply, with a raw socket client against the
 * real service (real TLS, real SQLite, the emulator behind it): AUTH never before TLS, 530 before
 * authentication, 535 then the 454 lockout, the sender rules, SIZE and 552, 500 recipients, 250
 * only with a stored message, revocation on an open connection, and hostile input.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { revokeRelayClient } from '../../src/service/access/relay-clients.js';
import { waitFor } from '../service/helpers.js';
import { dataOf, deviceMessage, startRelayPair, type RelayPair } from './relay-helpers.js';

const plain = (u: string, p: string) => Buffer.from(`\0${u}\0${p}`).toString('base64');

describe('SMTP relay dialogue', () => {
  let p: RelayPair;
  before(async () => {
    p = await startRelayPair();
  });
  after(async () => {
    await p?.stop();
  });

  it('before TLS: EHLO offers STARTTLS but no AUTH; AUTH gets 538 5.7.11; MAIL FROM gets 530 5.7.0', async () => {
    const c = await p.connect();
    const ehlo = await c.send('EHLO printer.local');
    assert.match(ehlo, /^250-/);
    for (const ext of ['SIZE 36700160', '8BITMIME', 'SMTPUTF8', 'PIPELINING', 'ENHANCEDSTATUSCODES', 'STARTTLS']) assert.ok(ehlo.split('\n').some((l) => l.slice(4) === ext), `${ext} in ${ehlo}`);
    assert.ok(!/AUTH/.test(ehlo), 'no AUTH in clear');
    assert.equal(await c.send('AUTH PLAIN ' + plain('x', 'y')), '538 5.7.11 Encryption required for requested authentication mechanism');
    assert.equal(await c.send('AUTH LOGIN'), '538 5.7.11 Encryption required for requested authentication mechanism');
    assert.equal(await c.send('MAIL FROM:<sender@contoso.com>'), '530 5.7.0 Authentication required');
    assert.equal(await c.send('QUIT'), '221 2.0.0 Bye');
  });

  it('after STARTTLS: AUTH PLAIN and LOGIN offered; wrong credentials 535 5.7.8; right ones 235', async () => {
    const cred = await p.client({ name: 'mfp-auth' });
    const c = await p.connectTls();
    const ehlo = await c.send('EHLO printer.local');
    assert.ok(ehlo.includes('250-AUTH PLAIN LOGIN') || ehlo.includes('250 AUTH PLAIN LOGIN'), ehlo);
    assert.ok(!ehlo.includes('STARTTLS'));
    assert.equal(await c.send('MAIL FROM:<' + p.tenant.authorizedFrom + '>'), '530 5.7.0 Authentication required');
    assert.equal(await c.send('AUTH PLAIN ' + plain(cred.username, 'wrong')), '535 5.7.8 Authentication credentials invalid');
    assert.equal(await c.send('AUTH LOGIN'), '334 VXNlcm5hbWU6');
    assert.equal(await c.send(Buffer.from(cred.username).toString('base64')), '334 UGFzc3dvcmQ6');
    assert.equal(await c.send(Buffer.from(cred.password!).toString('base64')), '235 2.7.0 Authentication successful');
    assert.equal(await c.send('AUTH PLAIN ' + plain(cred.username, cred.password!)), '503 5.5.1 Already authenticated');
    c.write('QUIT\r\n');
  });

  it('sender rules: envelope and header From must be allowed (550 5.7.1), rewrite policy rewrites', async () => {
    const other = 'ceo@' + p.tenant.authorizedFrom.split('@')[1];
    const strict = await p.client({ name: 'erp', allowFrom: [p.tenant.authorizedFrom] });
    const c = await p.connectAuthed(strict);
    assert.equal(await c.send(`MAIL FROM:<${other}>`), `550 5.7.1 Sender <${other}> is not allowed for relay client erp`);
    assert.equal(await c.send(`MAIL FROM:<${p.tenant.authorizedFrom}>`), '250 2.1.0 Sender OK');
    assert.equal(await c.send('RCPT TO:<user@example.com>'), '250 2.1.5 Recipient OK');
    assert.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    assert.equal(await c.send(dataOf(deviceMessage({ from: 'scanner@printer.local', to: 'user@example.com' })).replace(/\r\n$/, '')), '550 5.7.1 Sender <scanner@printer.local> is not allowed for relay client erp');
    c.write('QUIT\r\n');

    const rw = await p.client({ name: 'scanner-rw', fromPolicy: 'rewrite' });
    const d = await p.connectAuthed(rw);
    // The scanner uses its own address in MAIL FROM too: the envelope is rewritten as well.
    assert.equal(await d.send('MAIL FROM:<scanner@printer.local>'), '250 2.1.0 Sender OK');
    await d.send('RCPT TO:<user@example.com>');
    await d.send('DATA');
    const reply = await d.send(dataOf(deviceMessage({ from: 'scanner@printer.local', to: 'user@example.com', subject: 'rewrite me' })).replace(/\r\n$/, ''));
    const id = /^250 2\.0\.0 Ok: queued as ([0-9a-f-]{36})$/.exec(reply)?.[1];
    assert.ok(id, reply);
    d.write('QUIT\r\n');
    await p.waitForStatus([id], 'sent');
    const got = p.emulator.messages().find((m) => m.subject === 'rewrite me')!;
    const raw = p.emulator.rawMessage(got.id)!.toString('latin1');
    assert.match(raw, new RegExp(`\\r\\nFrom: Scanner <${p.tenant.authorizedFrom}>\\r\\n`));
    assert.match(raw, /\r\nReply-To: Scanner <scanner@printer\.local>\r\n/);
    assert.equal(got.from, p.tenant.authorizedFrom, 'envelope sender rewritten');
  });

  it('SIZE above 35 MB: 552 5.3.4 at MAIL FROM; 501st recipient 452 4.5.3; 250 names the stored message', async () => {
    const cred = await p.client({ name: 'bulk' });
    const c = await p.connectAuthed(cred);
    assert.equal(await c.send(`MAIL FROM:<${p.tenant.authorizedFrom}> SIZE=${35 * 1024 * 1024 + 1}`), '552 5.3.4 Message size exceeds fixed maximum message size');
    assert.equal(await c.send(`MAIL FROM:<${p.tenant.authorizedFrom}> SIZE=1000 BODY=8BITMIME`), '250 2.1.0 Sender OK');
    // Pipelined: 501 RCPT commands in one write, then the replies in order.
    c.write(Array.from({ length: 501 }, (_, i) => `RCPT TO:<r${i}@example.com>\r\n`).join(''));
    for (let i = 0; i < 500; i++) assert.equal(await c.readReply(), '250 2.1.5 Recipient OK');
    assert.equal(await c.readReply(), '452 4.5.3 Too many recipients');
    assert.equal(await c.send('RSET'), '250 2.0.0 Ok');
    await c.send(`MAIL FROM:<${p.tenant.authorizedFrom}>`);
    await c.send('RCPT TO:<user@example.com>');
    await c.send('DATA');
    const reply = await c.send(dataOf(deviceMessage({ from: p.tenant.authorizedFrom, to: 'user@example.com', subject: 'stored' })).replace(/\r\n$/, ''));
    const id = /^250 2\.0\.0 Ok: queued as (.+)$/.exec(reply)![1]!;
    const stored = await p.svc.store.get(id);
    assert.ok(stored, 'the 250 names a stored message');
    assert.equal(stored.source, 'bulk');
    c.write('QUIT\r\n');
  });

  it('a revoked client is refused on its open connection\'s next transaction', async () => {
    const cred = await p.client({ name: 'soon-revoked' });
    const c = await p.connectAuthed(cred);
    assert.equal(await c.send(`MAIL FROM:<${p.tenant.authorizedFrom}>`), '250 2.1.0 Sender OK');
    assert.equal(await c.send('RSET'), '250 2.0.0 Ok');
    await revokeRelayClient(p.svc.store, 'soon-revoked', { now: Date.now(), actor: 'test' });
    assert.equal(await c.send(`MAIL FROM:<${p.tenant.authorizedFrom}>`), '530 5.7.0 Authentication required');
  });

  it('hostile input: overlong lines, invalid UTF-8, bare LF, garbage, a disconnect mid-DATA: no crash, nothing half stored', async () => {
    const before = (await p.svc.store.list({ limit: 200 })).items.length;
    const c = await p.connect();
    c.write('X'.repeat(10_000) + '\r\n');
    assert.equal(await c.readReply(), '500 5.5.2 Line too long');
    c.write(Buffer.from([0x45, 0x48, 0x4c, 0x4f, 0x20, 0xff, 0xfe, 0x0d, 0x0a]));
    assert.equal(await c.readReply(), '500 5.5.2 Invalid characters in command');
    assert.match(await c.send('EHLO bare.lf\n'.trimEnd()), /^250-/);
    assert.equal(await c.send('FOO bar'), '500 5.5.2 Command not recognized');
    c.write('QUIT\r\n');

    const cred = await p.client({ name: 'flaky' });
    const d = await p.connectAuthed(cred);
    await d.send(`MAIL FROM:<${p.tenant.authorizedFrom}>`);
    await d.send('RCPT TO:<user@example.com>');
    await d.send('DATA');
    d.write('Subject: half\r\n\r\nhalf a message');
    d.close();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await p.svc.store.list({ limit: 200 })).items.length, before, 'nothing stored');
    // The service still answers.
    const e = await p.connect();
    assert.match(await e.send('NOOP'), /^250 2\.0\.0/);
    e.write('QUIT\r\n');
  });

  it('ten wrong passwords from one address: the next AUTH gets 454 4.7.0 and the connection closes', async () => {
    const cred = await p.client({ name: 'locked' });
    const c = await p.connectTls();
    // One wrong password came from this address earlier in this suite (the 535 test).
    const earlier = 1;
    for (let i = 0; i < 10 - earlier; i++) {
      assert.equal(await c.send('AUTH PLAIN ' + plain(cred.username, `wrong${i}`)), '535 5.7.8 Authentication credentials invalid');
    }
    assert.equal(await c.send('AUTH PLAIN ' + plain(cred.username, cred.password!)), '454 4.7.0 Temporary authentication failure');
    await waitFor(() => c.closed, 5000, 'connection closed');
  });
});
