/**
 * Security replay for the SMTP relay (issue 14): AUTH is never accepted in clear (also from a
 * client that ignores the missing AUTH in EHLO, and with pipelined input smuggled after
 * STARTTLS), no MAIL FROM before authentication, a --no-auth client only from its private
 * network, SMTP smuggling (a bare-LF end of data) does not end a message, and a relay client's
 * password never reaches the logs, API responses or the data dir (binary-safe grep).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dataOf, deviceMessage, startRelayPair, type RelayPair } from '../relay/relay-helpers.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe('SMTP relay security', () => {
  let p: RelayPair;
  before(async () => {
    p = await startRelayPair();
  });
  after(async () => {
    await p?.stop();
  });

  it('AUTH in clear is refused even when the client ignores EHLO; no MAIL FROM before authentication', async () => {
    const cred = await p.client({ name: 'clear-text' });
    const c = await p.connect();
    await c.send('EHLO x');
    const b64 = Buffer.from(`\0${cred.username}\0${cred.password}`).toString('base64');
    assert.equal(await c.send(`AUTH PLAIN ${b64}`), '538 5.7.11 Encryption required for requested authentication mechanism');
    assert.equal(await c.send(`MAIL FROM:<${p.tenant.authorizedFrom}>`), '530 5.7.0 Authentication required');
    assert.equal(await c.send('RCPT TO:<a@example.com>'), '503 5.5.1 Need MAIL command');
    assert.equal(await c.send('DATA'), '503 5.5.1 Need MAIL command');
    c.close();
  });

  it('commands pipelined after STARTTLS in clear are discarded, not run inside TLS (RFC 3207 §6)', async () => {
    const cred = await p.client({ name: 'injection' });
    const c = await p.connect();
    await c.send('EHLO x');
    const b64 = Buffer.from(`\0${cred.username}\0${cred.password}`).toString('base64');
    // The injected AUTH would authenticate the TLS session if it were kept.
    c.write(`STARTTLS\r\nAUTH PLAIN ${b64}\r\n`);
    assert.equal(await c.readReply(), '220 2.0.0 Ready to start TLS');
    // The handshake, then the session must still be unauthenticated: the injected AUTH was dropped.
    await c.tlsHandshake(p.relayCa);
    await c.send('EHLO x');
    assert.equal(await c.send(`MAIL FROM:<${p.tenant.authorizedFrom}>`), '530 5.7.0 Authentication required');
    c.close();
  });

  it('a --no-auth client is matched only from its private network', async () => {
    await p.client({ name: 'lan-printer', noAuth: true, allowIp: ['10.99.0.0/16'] });
    const c = await p.connect();
    await c.send('EHLO printer');
    assert.equal(await c.send(`MAIL FROM:<${p.tenant.authorizedFrom}>`), '530 5.7.0 Authentication required', '127.0.0.1 is not in 10.99.0.0/16');
    c.close();
    await p.client({ name: 'loopback-device', noAuth: true, allowIp: ['127.0.0.1'] });
    const d = await p.connect();
    await d.send('EHLO device');
    assert.equal(await d.send(`MAIL FROM:<${p.tenant.authorizedFrom}>`), '250 2.1.0 Sender OK', 'matched without a password from its address');
    d.close();
  });

  it('SMTP smuggling: a bare-LF "." line does not end the message; only CRLF.CRLF does', async () => {
    const cred = await p.client({ name: 'smuggler' });
    const c = await p.connectAuthed(cred);
    await c.send(`MAIL FROM:<${p.tenant.authorizedFrom}>`);
    await c.send('RCPT TO:<victim@example.com>');
    await c.send('DATA');
    const smuggled = `Subject: outer\r\n\r\nhello\n.\nMAIL FROM:<ceo@contoso.com>\r\nRCPT TO:<x@example.com>\r\n`;
    const reply = await c.send(dataOf(smuggled).replace(/\r\n$/, ''));
    const id = /^250 2\.0\.0 Ok: queued as (.+)$/.exec(reply)?.[1];
    assert.ok(id, reply);
    assert.equal(await c.send('NOOP'), '250 2.0.0 Ok', 'no smuggled command was answered in between');
    const m = await p.svc.store.get(id);
    assert.equal(m!.recipientCount, 1);
    c.close();
  });

  it('the password never reaches the logs, API responses or the data dir', async () => {
    const cred = await p.client({ name: 'secretive' });
    const c = await p.connectAuthed(cred);
    await c.send(`MAIL FROM:<${p.tenant.authorizedFrom}>`);
    await c.send('RCPT TO:<user@example.com>');
    await c.send('DATA');
    assert.match(await c.send(dataOf(deviceMessage({ from: p.tenant.authorizedFrom, to: 'user@example.com', subject: 'secret test' })).replace(/\r\n$/, '')), /^250 /);
    c.close();
    // A failed login with a near-miss password and the real one as username, too.
    const d = await p.connectTls();
    await d.send(`AUTH PLAIN ${Buffer.from(`\0${cred.password}\0${cred.password}x`).toString('base64')}`);
    d.close();
    await p.api('GET', '/api/v1/messages?limit=200');
    const secret = Buffer.from(cred.password!);
    const b64 = Buffer.from(Buffer.from(`\0${cred.username}\0${cred.password}`).toString('base64'));
    assert.ok(!p.logs.text().includes(cred.password!), 'not in the logs');
    assert.ok(!p.responses.some((r) => r.includes(cred.password!)), 'not in API responses');
    await new Promise((r) => setTimeout(r, 100));
    for (const f of filesUnder(p.dir)) {
      const bytes = readFileSync(f);
      assert.equal(bytes.includes(secret), false, `password in ${f}`);
      assert.equal(bytes.includes(b64), false, `AUTH PLAIN blob in ${f}`);
    }
  });
});
