/**
 * Automatic routing when the SMTP path is blocked below SMTP AUTH (issue 15 item 4: "TCP 587
 * unreachable or blocked while HTTPS works"): port 587 refused or reset, STARTTLS refused (454)
 * or not offered (a firewall's SMTP inspection strips it), a TLS handshake that fails. Each
 * moves the sender to Graph (sticky, with its reason) and the message arrives once, by Graph;
 * a connection lost after the session was up stays on SMTP (outcome unknown). Before, STARTTLS
 * and TLS failures and a reset at EHLO were "same failure on both": Automatic failed the message
 * although Graph could send it. End to end against the emulator (token, Graph) and real local
 * sockets standing in for the blocked path; the doctor's auto-route says the same.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { MailgateError, type MailgateErrorInit } from '../../src/core/errors.js';
import { certainlyNotAccepted, decideRoute } from '../../src/core/transport-routing.js';
import { parseSettings } from '../../src/core/settings.js';
import { runDoctor } from '../../src/doctor/run-doctor.js';
import { createMailer, routeStateFor } from '../../src/mailer.js';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';

const e = (init: Partial<MailgateErrorInit> & Pick<MailgateErrorInit, 'code'>) => new MailgateError({ phase: 'send', message: 'x', ...init });

describe('routing table: the SMTP path blocked below AUTH', () => {
  const rows: [string, MailgateError, string | undefined, string][] = [
    ['STARTTLS refused or not offered', e({ code: 'STARTTLS_UNAVAILABLE', phase: 'tls' }), 'graph', 'smtp-starttls-refused'],
    ['TLS handshake failed on 587', e({ code: 'TLS_FAILED', phase: 'tls' }), 'graph', 'smtp-tls-failed'],
    ['connection reset at EHLO', e({ code: 'CONNECTION_LOST', phase: 'connect' }), 'graph', 'smtp-unreachable'],
    ['connection reset at STARTTLS', e({ code: 'CONNECTION_LOST', phase: 'tls' }), 'graph', 'smtp-unreachable'],
    ['connection lost after DATA stays (outcome unknown)', e({ code: 'CONNECTION_LOST', phase: 'send' }), undefined, 'same-failure-on-both'],
  ];
  for (const [name, error, next, reason] of rows) {
    it(`smtp: ${name} → ${next ?? 'stay'} (${reason})`, () => {
      const d = decideRoute('smtp', error);
      assert.equal(d.next, next);
      assert.equal(d.reason, reason);
      if (next) assert.equal(d.sticky, true);
    });
  }
  it('a connection lost before any message command certainly did not accept the message; after, it may have', () => {
    assert.equal(certainlyNotAccepted(e({ code: 'CONNECTION_LOST', phase: 'connect' })), true);
    assert.equal(certainlyNotAccepted(e({ code: 'CONNECTION_LOST', phase: 'tls' })), true);
    assert.equal(certainlyNotAccepted(e({ code: 'CONNECTION_LOST', phase: 'send' })), false);
    assert.equal(certainlyNotAccepted(e({ code: 'CONNECTION_LOST', phase: 'auth' })), false);
  });
});

/** A local TCP server standing in for what sits on port 587: `onSocket` plays it. */
async function fakePort(onSocket: (s: net.Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    onSocket(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** An SMTP server whose EHLO lists no STARTTLS (as after a firewall's SMTP "fixup"). */
const noStarttls = (s: net.Socket) => {
  s.write('220 mail.example ESMTP\r\n');
  s.on('data', (d) => {
    const line = d.toString('latin1').toUpperCase();
    if (line.startsWith('EHLO')) s.write('250-mail.example\r\n250-XXXXXXXA\r\n250 SIZE 36700160\r\n');
    else if (line.startsWith('QUIT')) s.end('221 bye\r\n');
    else s.write('502 5.5.2 not implemented\r\n');
  });
};

describe('Automatic against the emulator when the SMTP path is blocked', () => {
  const tenants = useEmulatedTenants({ limits: { messagesPerMinute: Infinity } });

  async function sendOnce(domain: string, extra: Record<string, string>): Promise<{ transport?: string; route: ReturnType<typeof routeStateFor>; received: { messageId: string; transport?: string }[]; messageId: string }> {
    const t = tenants.tenant({ domain });
    tenants.emu.clearMessages();
    const r = parseSettings(tenants.rawFor(t, { transport: 'auto', graphEndpoint: tenants.emu.graph, connectionTimeoutMs: '3000', greetingTimeoutMs: '3000', ...extra }));
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    const mailer = createMailer(r.settings, { ca: tenants.emu.caPem });
    try {
      const res = await mailer.send({ to: ['someone@fabrikam.example'], subject: `blocked ${domain}`, text: 'x' });
      return { transport: res.transport, route: routeStateFor(t.clientId, t.authorizedFrom), received: tenants.emu.messages(), messageId: res.messageId };
    } finally {
      await mailer.close();
    }
  }

  function assertMovedOnce(o: Awaited<ReturnType<typeof sendOnce>>, reason: string) {
    assert.equal(o.transport, 'graph');
    assert.equal(o.route?.transport, 'graph');
    assert.equal(o.route?.reason, reason);
    assert.equal(o.route?.switches[`smtp→graph ${reason}`], 1);
    assert.deepEqual(o.received.map((m) => [m.messageId, m.transport]), [[o.messageId, 'graph']], 'exactly one copy, by Graph');
  }

  it('TCP 587 refused (nothing listens): moves to Graph, smtp-unreachable', async () => {
    const closed = await fakePort((s) => s.destroy());
    await closed.close();
    assertMovedOnce(await sendOnce('refused.onmicrosoft.com', { smtpPort: String(closed.port) }), 'smtp-unreachable');
  });

  it('TCP 587 accepted then reset by a firewall before the greeting: moves to Graph, smtp-unreachable', async () => {
    const reset = await fakePort((s) => s.resetAndDestroy());
    try {
      assertMovedOnce(await sendOnce('reset.onmicrosoft.com', { smtpPort: String(reset.port) }), 'smtp-unreachable');
    } finally {
      await reset.close();
    }
  });

  it('STARTTLS refused by the server (454): moves to Graph, smtp-starttls-refused', async () => {
    // The tenant is applied first, then the fault, then the send.
    const t = tenants.tenant({ domain: 'tls454b.onmicrosoft.com' });
    tenants.emu.clearMessages();
    tenants.emu.setFaults({ smtpTransient: { code: 454, count: 10, command: 'STARTTLS', message: '4.7.0 TLS not available due to temporary reason' } });
    const r = parseSettings(tenants.rawFor(t, { transport: 'auto', graphEndpoint: tenants.emu.graph }));
    assert.ok(r.ok);
    const mailer = createMailer(r.settings, { ca: tenants.emu.caPem });
    try {
      const res = await mailer.send({ to: ['someone@fabrikam.example'], subject: 'starttls 454', text: 'x' });
      assertMovedOnce({ transport: res.transport, route: routeStateFor(t.clientId, t.authorizedFrom), received: tenants.emu.messages(), messageId: res.messageId }, 'smtp-starttls-refused');
    } finally {
      await mailer.close();
    }
  });

  it('STARTTLS not offered (stripped on the path): moves to Graph, smtp-starttls-refused; no credential went to the cleartext server', async () => {
    const seen: string[] = [];
    const stripped = await fakePort((s) => {
      s.on('data', (d) => seen.push(d.toString('latin1')));
      noStarttls(s);
    });
    try {
      assertMovedOnce(await sendOnce('stripped.onmicrosoft.com', { smtpPort: String(stripped.port) }), 'smtp-starttls-refused');
      assert.ok(!seen.join('').toUpperCase().includes('AUTH'), `no AUTH on the cleartext connection: ${seen.join('')}`);
    } finally {
      await stripped.close();
    }
  });

  it('TLS handshake on 587 fails (a middlebox answering STARTTLS with garbage): moves to Graph, smtp-tls-failed', async () => {
    const middlebox = await fakePort((s) => {
      s.write('220 mail.example ESMTP\r\n');
      s.on('data', (d) => {
        const line = d.toString('latin1').toUpperCase();
        if (line.startsWith('EHLO')) s.write('250-mail.example\r\n250-STARTTLS\r\n250 SIZE 36700160\r\n');
        else if (line.startsWith('STARTTLS')) {
          s.write('220 2.0.0 SMTP server ready\r\n');
          // Not a TLS server hello: the client's handshake fails.
          s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
        }
      });
    });
    try {
      assertMovedOnce(await sendOnce('middlebox.onmicrosoft.com', { smtpPort: String(middlebox.port) }), 'smtp-tls-failed');
    } finally {
      await middlebox.close();
    }
  });

  it('the doctor with Transport auto and STARTTLS stripped: auto-route says Graph, for that reason', async () => {
    const stripped = await fakePort(noStarttls);
    try {
      const t = tenants.tenant({ domain: 'doctor-stripped.onmicrosoft.com' });
      const report = await runDoctor(tenants.rawFor(t, { transport: 'auto', graphEndpoint: tenants.emu.graph, smtpPort: String(stripped.port) }), { ca: tenants.emu.caPem, to: 'someone@fabrikam.example', timeoutMs: 3000 });
      const by = (id: string) => report.checks.find((c) => c.id === id);
      assert.equal(by('starttls')?.status, 'fail');
      assert.equal(by('graph-send')?.status, 'pass');
      const route = by('auto-route')!;
      assert.equal(route.status, 'pass');
      assert.deepEqual([route.details?.transport, route.details?.reason], ['graph', 'smtp-starttls-refused']);
      assert.match(route.summary, /STARTTLS/);
    } finally {
      await stripped.close();
    }
  });
});
