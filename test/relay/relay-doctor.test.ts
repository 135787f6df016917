/**
 * The doctor's `relay` check (issue 14) against SMTP listeners that stand in for the relay
 * (smtp-server with STARTTLS, certificates with chosen validity): pass, a certificate expiring
 * within 30 days or no client (warn), an expired certificate, nothing listening, no STARTTLS, or
 * AUTH offered in clear (fail); the implicit-TLS port too; and the check appears only when the
 * relay is on, after the others, whatever the Email Settings say.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { decideRelay, observeRelay, RELAY_CERT_WARN_DAYS, type RelayDoctorInput } from '../../src/doctor/checks/relay-check.js';
import { runDoctor } from '../../src/doctor/run-doctor.js';
import { CHECK_IDS } from '../../src/doctor/types.js';
import { createClientCertificate } from '../../src/emulator/index.js';
import { freePort } from '../interop/harness.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../service/helpers.js';

const DAY = 86_400_000;
const servers: SMTPServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r(null)))));
});

async function certificate(validDays: number, startedDaysAgo = 1) {
  const now = Date.now();
  return createClientCertificate({ commonName: 'relay.test', notBefore: new Date(now - startedDaysAgo * DAY), notAfter: new Date(now + validDays * DAY) });
}

async function listen(options: SMTPServerOptions): Promise<number> {
  const server = new SMTPServer({ logger: false, authOptional: true, onData: (s, _session, cb) => s.resume().on('end', () => cb()), ...options });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.server.address() as AddressInfo).port;
}

async function relayLike(validDays: number, extra: SMTPServerOptions = {}, startedDaysAgo = 1): Promise<number> {
  const c = await certificate(validDays, startedDaysAgo);
  // No AUTH before TLS, like Mailgate's relay (smtp-server itself would advertise it).
  return listen({ key: c.privateKeyPem, cert: c.certPem, disabledCommands: ['AUTH'], ...extra });
}

async function check(input: RelayDoctorInput) {
  return decideRelay(await observeRelay(input, 3000), Date.now());
}

describe('doctor: relay check', () => {
  it('passes for a listening relay with STARTTLS, a valid certificate and a client; reports the fingerprint', async () => {
    const port = await relayLike(365);
    const r = await check({ host: '127.0.0.1', port, clients: 2 });
    assert.equal(r.status, 'pass', r.summary);
    assert.equal(r.id, 'relay');
    assert.match(r.summary, new RegExp(`answers on 127\\.0\\.0\\.1:${port} with STARTTLS \\(TLSv1\\.[23]\\), certificate CN=relay\\.test, SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}, valid until \\d{4}-\\d\\d-\\d\\d; 2 active clients`));
    assert.match(String(r.details?.fingerprint256), /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal(r.details?.clients, 2);
  });

  it('a wildcard listen address is probed on loopback', async () => {
    const port = await relayLike(365);
    assert.equal((await check({ host: '0.0.0.0', port, clients: 1 })).status, 'pass');
  });

  it(`warns when the certificate expires within ${RELAY_CERT_WARN_DAYS} days`, async () => {
    const port = await relayLike(10);
    const r = await check({ host: '127.0.0.1', port, clients: 1 });
    assert.equal(r.status, 'warn');
    assert.match(r.summary, /certificate \(CN=relay\.test\) expires on \d{4}-\d\d-\d\d, in (9|10) days/);
    assert.match(r.fix ?? '', /MAILGATE_RELAY_TLS_CERT/);
  });

  it('fails when the certificate has expired, or is not valid yet', async () => {
    const expired = await relayLike(-2, {}, 30);
    const r = await check({ host: '127.0.0.1', port: expired, clients: 1 });
    assert.equal(r.status, 'fail');
    assert.match(r.summary, /expired on \d{4}-\d\d-\d\d/);
    const future = await relayLike(400, {}, -5);
    const f = await check({ host: '127.0.0.1', port: future, clients: 1 });
    assert.equal(f.status, 'fail');
    assert.match(f.summary, /valid only from/);
  });

  it('warns when there is no relay client, with the command that creates one', async () => {
    const port = await relayLike(365);
    const r = await check({ host: '127.0.0.1', port, clients: 0, authorizedFrom: 'sender@contoso.com' });
    assert.equal(r.status, 'warn');
    assert.match(r.summary, /No relay client exists yet/);
    assert.deepEqual(r.commands, ['mailgate relay-client create scanner --allow-from sender@contoso.com']);
    const unknown = await check({ host: '127.0.0.1', port });
    assert.equal(unknown.status, 'warn');
    assert.match(unknown.fix ?? '', /--data-dir/);
  });

  it('fails when nothing listens, naming the variables to check', async () => {
    const port = await freePort();
    const r = await check({ host: '127.0.0.1', port, clients: 1 });
    assert.equal(r.status, 'fail');
    assert.match(r.summary, new RegExp(`Nothing accepts connections on the relay's STARTTLS port 127\\.0\\.0\\.1:${port}`));
    assert.match(r.fix ?? '', /MAILGATE_RELAY_PORT/);
  });

  it('fails without STARTTLS, and when AUTH is offered before TLS', async () => {
    const noTls = await listen({ disabledCommands: ['STARTTLS'], hideSTARTTLS: true, authOptional: true });
    const r = await check({ host: '127.0.0.1', port: noTls, clients: 1 });
    assert.equal(r.status, 'fail');
    assert.match(r.summary, /STARTTLS is not offered/);
    const clear = await relayLike(365, { disabledCommands: [], authMethods: ['PLAIN', 'LOGIN'], allowInsecureAuth: true });
    const c = await check({ host: '127.0.0.1', port: clear, clients: 1 });
    assert.equal(c.status, 'fail');
    assert.match(c.summary, /offers AUTH before STARTTLS/);
  });

  it('checks the implicit-TLS port too', async () => {
    const port = await relayLike(365);
    const cert = await certificate(365);
    const tlsPort = await listen({ secure: true, key: cert.privateKeyPem, cert: cert.certPem });
    const ok = await check({ host: '127.0.0.1', port, tlsPort, clients: 1 });
    assert.equal(ok.status, 'pass', ok.summary);
    assert.match(ok.summary, new RegExp(`implicit TLS on 127\\.0\\.0\\.1:${tlsPort}`));
    const closed = await freePort();
    const bad = await check({ host: '127.0.0.1', port, tlsPort: closed, clients: 1 });
    assert.equal(bad.status, 'fail');
    assert.match(bad.summary, /implicit TLS port/);
    assert.match(bad.fix ?? '', /MAILGATE_RELAY_TLS_PORT/);
  });

  it('runDoctor adds the relay check only when the relay is on, last, even with invalid settings', async () => {
    const port = await relayLike(365);
    const without = await runDoctor({});
    assert.deepEqual(without.checks.map((c) => c.id), [...CHECK_IDS]);
    const withRelay = await runDoctor({}, { relay: { host: '127.0.0.1', port, clients: 1 }, timeoutMs: 3000 });
    assert.deepEqual(withRelay.checks.map((c) => c.id), [...CHECK_IDS, 'relay']);
    assert.equal(withRelay.checks.at(-1)?.status, 'pass');
    assert.equal(withRelay.checks[0]?.status, 'fail', 'the settings are invalid');
  });

  it('mailgate doctor adds the relay check when MAILGATE_RELAY_PORT is set, counting the data dir\'s clients', async () => {
    const port = await relayLike(365);
    const t = tempDir('mg-relay-doctor-');
    try {
      const env = { MAILGATE_DATA_DIR: t.dir, MAILGATE_RELAY_PORT: String(port), MAILGATE_AUTHORIZED_FROM: 'sender@contoso.com' };
      const created = await runCli(['relay-client', 'create', 'scanner'], { MAILGATE_DATA_DIR: t.dir });
      assert.equal(created.code, 0, created.stderr);
      const r = await runCli(['doctor', '--json', '--timeout', '3000'], env);
      const report = JSON.parse(r.stdout) as { checks: { id: string; status: string; summary: string; details?: Record<string, unknown> }[] };
      const relay = report.checks.find((c) => c.id === 'relay');
      assert.equal(relay?.status, 'pass', relay?.summary);
      assert.equal(relay?.details?.clients, 1);
      const off = await runCli(['doctor', '--json', '--timeout', '3000'], { MAILGATE_DATA_DIR: t.dir });
      assert.ok(!(JSON.parse(off.stdout) as { checks: { id: string }[] }).checks.some((c) => c.id === 'relay'), 'no relay check when the relay is off');
      const human = await runCli(['doctor', '--timeout', '3000'], env);
      assert.match(human.stdout, /relay\s+The SMTP relay answers/);
    } finally {
      t.remove();
    }
  });
});
