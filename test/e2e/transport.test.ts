/**
 * End-to-end tests of the core transport (createMailer) against the emulator and a recording
 * smtp-server: connection cap, token economy, connection retirement before token expiry,
 * certificate credentials, basic auth, and TLS-before-AUTH discipline.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SMTPServer } from 'smtp-server';
import { startEmulator, buildTenantState, createClientCertificate, type Emulator, type BuiltTenant } from '../../src/emulator/index.js';
import { parseSettings, type RawSettings, type EmailSettings } from '../../src/core/settings.js';
import { createMailer } from '../../src/mailer.js';
import { MailgateError } from '../../src/core/errors.js';
import { decodeTokenClaims } from '../../src/auth/jwt-claims.js';

let emu: Emulator;
before(async () => {
  emu = await startEmulator(undefined, { tokenLifetimeSeconds: 3599, limits: { messagesPerMinute: Infinity } });
});
after(async () => {
  await emu.stop();
});

function settingsFor(t: BuiltTenant, extra: RawSettings = {}): EmailSettings {
  const r = parseSettings({
    clientId: t.clientId,
    tenantId: t.tenantId,
    clientSecret: t.clientSecret ?? undefined,
    authorizedFrom: t.authorizedFrom,
    smtpHost: emu.smtp.host,
    smtpPort: emu.smtp.port,
    authorityHost: emu.authorityHost,
    ...extra,
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r.settings;
}

function use(t: BuiltTenant): BuiltTenant {
  emu.setState(t.state);
  emu.clearFaults();
  emu.resetStats();
  emu.clearMessages();
  return t;
}

const msg = (i: number) => ({ to: [`user${i}@example.com`], subject: `Code ${i}`, text: `Your code is ${i}` });

test('30 concurrent sends: one token, never more than 3 connections, all accepted', async () => {
  const t = use(buildTenantState());
  const mailer = createMailer(settingsFor(t), { ca: emu.caPem });
  try {
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => mailer.send(msg(i))));
    assert.equal(results.length, 30);
    assert.ok(results.every((r) => r.response.startsWith('250')));
    assert.equal(emu.stats().tokenRequests, 1);
    assert.ok(emu.stats().peakAuthenticatedConnections[t.authorizedFrom.toLowerCase()] <= 3);
    assert.ok(mailer.stats.peakConnections <= 3);
    assert.equal(emu.messages().length, 30);
  } finally {
    await mailer.close();
  }
});

test('pooled connections are retired before their token expires and re-authenticate with a new token', async () => {
  const short = await startEmulator(undefined, { tokenLifetimeSeconds: 4 });
  try {
    const d = short.demo!;
    const r = parseSettings({ clientId: d.clientId, tenantId: d.tenantId, clientSecret: d.clientSecret, authorizedFrom: d.authorizedFrom, smtpHost: short.smtp.host, smtpPort: short.smtp.port, authorityHost: short.authorityHost });
    assert.ok(r.ok);
    const mailer = createMailer(r.settings, { ca: short.caPem, maxConnections: 1 });
    try {
      await mailer.send(msg(1));
      await mailer.send(msg(2));
      assert.equal(mailer.stats.connectionsOpened, 1, 'reused while the token is fresh');
      await new Promise((res) => setTimeout(res, 2600)); // past half the 4 s lifetime
      await mailer.send(msg(3));
      assert.equal(mailer.stats.connectionsOpened, 2, 'a new connection once the token is near expiry');
      assert.equal(short.stats().tokenRequests, 2);
      assert.equal(short.stats().authSuccesses, 2);
    } finally {
      await mailer.close();
    }
  } finally {
    await short.stop();
  }
});

test('a certificate credential works (assertion signed by MSAL, appidacr 2)', async () => {
  const cert = await createClientCertificate();
  const t = use(buildTenantState({ clientSecret: null, certificates: [{ certPem: cert.certPem, thumbprintSha256: cert.thumbprintSha256 }] }));
  const settings = settingsFor(t, { clientCertificatePem: `${cert.certPem}\n${cert.privateKeyPem}` });
  const mailer = createMailer(settings, { ca: emu.caPem });
  try {
    const r = await mailer.send(msg(1));
    assert.match(r.response, /^250/);
    const token = await mailer.tokenProvider!.getToken();
    assert.equal(decodeTokenClaims(token.token)?.appidacr, '2');
  } finally {
    await mailer.close();
  }
});

test('a certificate that was not uploaded: AADSTS700027', async () => {
  const uploaded = await createClientCertificate();
  const other = await createClientCertificate();
  const t = use(buildTenantState({ clientSecret: null, certificates: [{ certPem: uploaded.certPem, thumbprintSha256: uploaded.thumbprintSha256 }] }));
  const mailer = createMailer(settingsFor(t, { clientCertificatePem: `${other.certPem}\n${other.privateKeyPem}` }), { ca: emu.caPem });
  try {
    await assert.rejects(mailer.send(msg(1)), (e: unknown) => e instanceof MailgateError && e.code === 'TOKEN_REJECTED' && (e.token?.aadsts ?? []).includes(700027));
  } finally {
    await mailer.close();
  }
});

test('basic auth mode (modern auth off) authenticates with the password after STARTTLS', async () => {
  const t = use(buildTenantState({ basicAuthPassword: 'correct horse battery staple' }));
  const settings = settingsFor(t, { useModernAuth: false, smtpUsername: t.authorizedFrom, smtpPassword: 'correct horse battery staple' });
  const mailer = createMailer(settings, { ca: emu.caPem });
  try {
    assert.match((await mailer.send(msg(1))).response, /^250/);
    assert.equal(emu.stats().tokenRequests, 0);
    const auth = emu.log().filter((e) => e.kind === 'smtp').flatMap((e) => ('auth' in e ? e.auth : []));
    assert.ok(auth.some((a) => a.method !== 'XOAUTH2' && a.tlsActive && a.result === 'success'), JSON.stringify(auth));
  } finally {
    await mailer.close();
  }
});

test('basic auth against a tenant that disabled it: 535 5.7.139 basic authentication is disabled', async () => {
  const t = use(buildTenantState());
  const mailer = createMailer(settingsFor(t, { useModernAuth: false, smtpUsername: t.authorizedFrom, smtpPassword: 'pw' }), { ca: emu.caPem });
  try {
    await assert.rejects(mailer.send(msg(1)), (e: unknown) => e instanceof MailgateError && e.code === 'AUTH_FAILED' && /basic authentication is disabled/.test(e.reply ?? ''));
  } finally {
    await mailer.close();
  }
});

/** A server that never offers STARTTLS and records every command it receives. */
async function plaintextServer(): Promise<{ port: number; commands: string[]; close: () => Promise<void> }> {
  const commands: string[] = [];
  const server = new SMTPServer({
    secure: false,
    hideSTARTTLS: true,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: true,
    authMethods: ['PLAIN', 'LOGIN', 'XOAUTH2'],
    logger: false,
    onAuth: (_a, _s, cb) => cb(null, { user: 'x' }),
    onData: (stream, _s, cb) => {
      stream.resume();
      stream.on('end', () => cb());
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const net = server.server;
  net.prependListener('connection', (sock) => sock.on('data', (d: Buffer) => commands.push(...d.toString('latin1').split('\r\n').filter(Boolean))));
  return { port: (net.address() as { port: number }).port, commands, close: () => new Promise((r) => server.close(() => r())) };
}

test('no STARTTLS: no token and no password is ever sent, no message is sent', async () => {
  for (const modern of [true, false]) {
    const srv = await plaintextServer();
    const t = use(buildTenantState({ basicAuthPassword: 'pw-in-clear?' }));
    const settings = settingsFor(t, modern ? { smtpPort: srv.port } : { smtpPort: srv.port, useModernAuth: false, smtpUsername: t.authorizedFrom, smtpPassword: 'pw-in-clear?' });
    const mailer = createMailer(settings, { ca: emu.caPem });
    try {
      await assert.rejects(mailer.send(msg(1)), (e: unknown) => e instanceof MailgateError && e.code === 'STARTTLS_UNAVAILABLE' && e.phase === 'tls');
    } finally {
      await mailer.close();
      await srv.close();
    }
    const wire = srv.commands.join('\n');
    assert.doesNotMatch(wire, /AUTH/i, wire);
    assert.doesNotMatch(wire, /MAIL FROM/i);
    assert.equal(wire.includes('pw-in-clear?'), false);
    assert.doesNotMatch(wire, /dXNlcj1|eyJ/);
  }
});

test('a display name holding commas and addresses never becomes extra recipients in the header', async () => {
  const t = use(buildTenantState());
  const mailer = createMailer(settingsFor(t), { ca: emu.caPem });
  try {
    const r = await mailer.send({ to: ['a@x.example, b@y.example <c@example.com>'], subject: 'names', text: 'x' });
    assert.deepEqual(r.accepted, ['c@example.com']);
    const stored = emu.messages().find((m) => m.messageId === r.messageId)!;
    const raw = emu.rawMessage(stored.id)!.toString('utf8');
    const to = /^To: (.*)$/m.exec(raw)![1];
    assert.match(to, /^"a@x\.example, b@y\.example" <c@example\.com>$/);
  } finally {
    await mailer.close();
  }
});

test('a refused sign-in fails the sends waiting for a connection at once: no storm of refused logins', async () => {
  const t = use(buildTenantState({ fullAccess: false }));
  const mailer = createMailer(settingsFor(t), { ca: emu.caPem, maxConnections: 1 });
  try {
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => mailer.send(msg(i))));
    const errors = results.map((r) => (r.status === 'rejected' ? (r.reason as MailgateError) : undefined));
    assert.ok(errors.every((e) => e instanceof MailgateError && e.code === 'AUTH_FAILED'), 'every send fails with the refusal');
    assert.equal(errors.filter((e) => e?.context.notTried === true).length, 7, 'the seven waiting sends were not tried');
    assert.ok(errors.every((e) => e?.smtp?.raw.startsWith('535 5.7.3')), 'and carry the server reply');
    assert.equal(emu.stats().authFailures, 2, 'one connection, retried once with a fresh token');
    assert.ok(emu.stats().tokenRequests <= 2);
    assert.equal(emu.messages().length, 0);
  } finally {
    await mailer.close();
  }
});

test('a token failure shared by concurrent sends names each send\'s own Message-ID', async () => {
  const t = use(buildTenantState());
  const mailer = createMailer(settingsFor(t, { clientSecret: 'not-the-secret-value-42' }), { ca: emu.caPem, tokenRetry: { maxAttempts: 1 } });
  try {
    const ids = ['<m1@contoso.com>', '<m2@contoso.com>', '<m3@contoso.com>'];
    const results = await Promise.allSettled(ids.map((messageId, i) => mailer.send({ ...msg(i), messageId })));
    const errors = results.map((r) => (r.status === 'rejected' ? (r.reason as MailgateError) : undefined));
    assert.ok(errors.every((e) => e instanceof MailgateError && e.code === 'TOKEN_REJECTED' && e.token?.aadsts?.includes(7000215)));
    assert.deepEqual(errors.map((e) => e?.context.messageId), ids);
    assert.equal(emu.stats().tokenRequests, 1, 'one token request for all three');
  } finally {
    await mailer.close();
  }
});

test('a token that cannot go into XOAUTH2 (a space in it) fails as ARGUMENT_INVALID before anything is sent, not as a lost connection', async () => {
  const t = use(buildTenantState());
  const badToken = { requestCount: 0, invalidate: () => undefined, getToken: async () => ({ token: 'eyJ0eXAi OiJKV1Qi', expiresAt: Date.now() + 3_600_000 }) };
  const mailer = createMailer(settingsFor(t), { ca: emu.caPem, tokenProvider: badToken });
  try {
    await assert.rejects(mailer.send(msg(1)), (e: unknown) => {
      assert.ok(e instanceof MailgateError);
      assert.equal(e.code, 'ARGUMENT_INVALID');
      assert.equal(e.phase, 'auth');
      return true;
    });
    assert.equal(emu.stats().authFailures, 0, 'no AUTH command reached the server');
    assert.equal(emu.stats().authSuccesses, 0);
  } finally {
    await mailer.close();
  }
});
