/**
 * Interop (issue 19): Mailgate's pipelined send against servers nobody here wrote. Postfix 3.7's
 * smtpd (CHUNKING since 3.4) and Dovecot 2.3's submission both offer PIPELINING and CHUNKING
 * after STARTTLS, so Mailgate sends MAIL FROM, every RCPT TO and `BDAT <size> LAST` with the
 * message in one write. Checked here: the messages come out the other side (./sink.ts) byte for
 * byte, a recipient refused in the middle of a batch is reported as today (the others get the
 * message), every recipient refused fails with the server's reply and the session is reset,
 * and Postfix's own command counts (its `disconnect` log line) show BDAT, not DATA.
 *
 * Run on its own: `node scripts/run-tests.mjs test/interop/pipelining` (root, with Postfix and
 * Dovecot installed: scripts/install-interop-deps.sh); skipped loudly otherwise, a failure with
 * MAILGATE_INTEROP_REQUIRED=1, as the main interop suite (interop.test.ts, whose harness this uses).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { buildTenantState, startEmulator, type Emulator } from '../../src/emulator/index.js';
import { createMailer, createTokenProvider } from '../../src/mailer.js';
import { parseSettings, type EmailSettings, type RawSettings } from '../../src/core/settings.js';
import { MailgateError } from '../../src/core/errors.js';
import { httpsRequest } from '../../src/auth/https-request.js';
import { SmtpSession } from '../../src/transport/smtp-session.js';
import { InteropServers, locateServers, tail, type JwksKey } from './harness.js';
import { REFUSED_RECIPIENT } from './sink.js';

const REQUIRED = process.env.MAILGATE_INTEROP_REQUIRED === '1';
const tenant = buildTenantState({
  domain: 'interop.test',
  mailbox: 'sender@interop.test',
  displayName: 'Contoso Mailgate - Production Notifications (SMTP OAuth)',
});

let skipReason: string | undefined;
let emulator: Emulator | undefined;
let servers: InteropServers | undefined;
let combinedCa = '';

const located = locateServers();
if (!located.ok) skipReason = located.reason;
else {
  emulator = await startEmulator(tenant.state);
  const jwksRes = await httpsRequest(`${emulator.authorityHost}/${tenant.tenantId}/discovery/v2.0/keys`, { method: 'GET', ca: emulator.caPem });
  assert.equal(jwksRes.status, 200, `emulator JWKS: HTTP ${jwksRes.status}`);
  const jwks = (JSON.parse(jwksRes.body) as { keys: JwksKey[] }).keys;
  for (let attempt = 1; attempt <= 2 && !servers; attempt++) {
    try {
      servers = await InteropServers.start(located.bins, {
        jwks,
        issuers: [`https://sts.windows.net/${tenant.tenantId}/`],
        mailboxAccess: [{ mailbox: tenant.authorizedFrom, objectId: tenant.servicePrincipalObjectId }],
        passwordUsers: [],
      });
      skipReason = undefined;
    } catch (e) {
      skipReason = `Postfix/Dovecot are installed but could not start: ${(e as Error).message}`;
    }
  }
  if (servers) combinedCa = `${emulator.caPem.trim()}\n${servers.caPem.trim()}\n`;
}
if (skipReason) {
  await emulator?.stop();
  process.stderr.write(`\n!! PIPELINING INTEROP ${REQUIRED ? 'FAILED' : 'SKIPPED'} (Postfix/Dovecot): ${skipReason}\n\n`);
}

function S(): InteropServers {
  if (!servers) throw new Error(`interop servers not running: ${skipReason}`);
  return servers;
}

let nextHost = 120;
/** A fresh loopback source address per case (Dovecot's anvil counts per client IP; logs read per case). */
const source = (): string => `127.0.0.${nextHost++}`;

function settingsFor(port: number, overrides: RawSettings = {}): EmailSettings {
  const r = parseSettings({
    useModernAuth: true, smtpHost: '127.0.0.1', smtpPort: port,
    clientId: tenant.clientId, clientSecret: tenant.clientSecret!, tenantId: tenant.tenantId, authorizedFrom: tenant.authorizedFrom,
    authorityHost: emulator!.authorityHost, connectionTimeoutMs: 10_000, greetingTimeoutMs: 10_000, socketTimeoutMs: 30_000,
    ...overrides,
  });
  if (!r.ok) throw new Error(r.problems.map((p) => p.message).join('; '));
  return r.settings;
}

/**
 * A relayed message, sent as these exact bytes: lines that start with a dot, a lone dot line
 * (which DATA would have to stuff) and 8-bit UTF-8 text.
 */
function content(subject: string): { bytes: Buffer; messageId: string } {
  const messageId = `<${randomBytes(8).toString('hex')}@interop.test>`;
  const bytes = Buffer.from(
    `From: <${tenant.authorizedFrom}>\r\nTo: <a@example.test>\r\nSubject: ${subject}\r\nMessage-ID: ${messageId}\r\nDate: Thu, 03 Dec 2026 22:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n.\r\n..two dots\r\n.leading dot\r\nGrüße aus Köln\r\nlast line\r\n`,
    'utf8',
  );
  return { bytes, messageId };
}

async function arrived(messageId: string, what: string) {
  await S().sink.waitFor((ms) => ms.some((m) => m.messageId === messageId), 20_000, what);
  return S().sink.messages.find((m) => m.messageId === messageId)!;
}

/** The bytes sent are the tail of what the sink got (the servers only add trace headers on top). */
function assertSameBytes(received: Buffer, sent: Buffer, what: string) {
  const tailBytes = received.subarray(received.length - sent.length);
  assert.ok(tailBytes.equals(sent), `${what}: the message arrived byte for byte\n--- sent ---\n${sent.toString('utf8')}\n--- received ---\n${received.toString('utf8')}`);
}

async function waitForLog(log: () => string, re: RegExp, what: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const line = log().split('\n').find((l) => re.test(l));
    if (line) return line;
    if (Date.now() > deadline) assert.fail(`${what}: no log line matching ${re}\n${tail(log(), 30)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

if (skipReason) {
  test('interop: pipelined BDAT to Postfix and Dovecot', { skip: REQUIRED ? false : `interop servers unavailable: ${skipReason}` }, () => {
    assert.fail(`MAILGATE_INTEROP_REQUIRED=1 but the interop servers are unavailable: ${skipReason}`);
  });
} else describe('interop: pipelined BDAT to Postfix and Dovecot', { timeout: 180_000 }, () => {
  after(async () => {
    await servers?.stop();
    await emulator?.stop();
  });

  const targets = [
    { name: 'Postfix', port: () => S().ports.postfixTls, deps: {} },
    // Dovecot 2.3's command line is short: XOAUTH2 in two steps (docs/dependencies.md §4a).
    { name: 'Dovecot submission', port: () => S().ports.dovecotSubmission, deps: { xoauth2Mode: 'two-step' as const } },
  ];

  for (const t of targets) {
    test(`${t.name} offers PIPELINING and CHUNKING after STARTTLS and AUTH: the session takes the one-round-trip path`, async () => {
      const token = (await createTokenProvider(settingsFor(t.port()), { ca: combinedCa }).getToken()).token;
      const s = new SmtpSession({ host: '127.0.0.1', port: t.port(), secure: false, ca: combinedCa, connectionTimeoutMs: 10_000, greetingTimeoutMs: 10_000, socketTimeoutMs: 30_000, localAddress: source(), ...t.deps });
      try {
        await s.connect();
        await s.authenticate({ kind: 'xoauth2', user: tenant.authorizedFrom, token });
        assert.equal(s.sendPath, 'bdat');
      } finally {
        s.close();
      }
    });

    test(`${t.name}: three pipelined BDAT messages on one connection arrive byte for byte`, async () => {
      const src = source();
      const mailer = createMailer(settingsFor(t.port()), { ca: combinedCa, localAddress: src, maxConnections: 1, ...t.deps });
      const sent: { bytes: Buffer; messageId: string }[] = [];
      try {
        for (let i = 0; i < 3; i++) {
          const c = content(`pipelined ${i} ${randomBytes(3).toString('hex')}`);
          sent.push(c);
          const r = await mailer.send({ to: ['a@example.test'], subject: 'x', raw: { content: c.bytes, envelope: { from: tenant.authorizedFrom, to: ['a@example.test'] } } });
          assert.match(r.response, /^250 /);
        }
        assert.equal(mailer.stats.connectionsOpened, 1);
      } finally {
        await mailer.close();
      }
      for (const c of sent) assertSameBytes((await arrived(c.messageId, `${t.name} message`)).bytes, c.bytes, t.name);
      if (t.name === 'Postfix') {
        // Postfix counts the commands of each session: BDAT three times, DATA never.
        const line = await waitForLog(() => S().postfixLog(), new RegExp(`disconnect from \\S+\\[${esc(src)}\\].* bdat=3`), 'Postfix disconnect');
        assert.doesNotMatch(line, / data=/, line);
      }
    });

    test(`${t.name}: a recipient refused in the middle of a pipelined batch is listed as rejected, the others get the message`, async () => {
      const src = source();
      const mailer = createMailer(settingsFor(t.port()), { ca: combinedCa, localAddress: src, maxConnections: 1, ...t.deps });
      const c = content(`refused in the middle ${randomBytes(3).toString('hex')}`);
      const to = ['a@example.test', REFUSED_RECIPIENT, 'b@example.test'];
      try {
        const r = await mailer.send({ to, subject: 'x', raw: { content: c.bytes, envelope: { from: tenant.authorizedFrom, to } } });
        assert.deepEqual(r.rejected, [REFUSED_RECIPIENT]);
        assert.deepEqual(r.accepted, ['a@example.test', 'b@example.test']);
        // The session is still good: the next message goes over it.
        const next = content(`after the refusal ${randomBytes(3).toString('hex')}`);
        await mailer.send({ to: ['a@example.test'], subject: 'x', raw: { content: next.bytes, envelope: { from: tenant.authorizedFrom, to: ['a@example.test'] } } });
        assert.equal(mailer.stats.connectionsOpened, 1);
        assertSameBytes((await arrived(next.messageId, 'the next message')).bytes, next.bytes, t.name);
      } finally {
        await mailer.close();
      }
      const got = await arrived(c.messageId, `${t.name} message`);
      assert.deepEqual([...got.to].sort(), ['a@example.test', 'b@example.test']);
      assertSameBytes(got.bytes, c.bytes, t.name);
      if (t.name === 'Postfix') await waitForLog(() => S().postfixLog(), new RegExp(`disconnect from \\S+\\[${esc(src)}\\].* rcpt=3/4 bdat=2`), 'Postfix: 3 of 4 RCPT accepted, 2 BDAT');
    });

    test(`${t.name}: every recipient refused: the server's reply as today, BDAT LAST answered, the session reset`, async () => {
      const src = source();
      const mailer = createMailer(settingsFor(t.port()), { ca: combinedCa, localAddress: src, maxConnections: 1, ...t.deps });
      const c = content(`all refused ${randomBytes(3).toString('hex')}`);
      let err: unknown;
      try {
        await mailer.send({ to: [REFUSED_RECIPIENT], subject: 'x', raw: { content: c.bytes, envelope: { from: tenant.authorizedFrom, to: [REFUSED_RECIPIENT] } } });
      } catch (e) {
        err = e;
      } finally {
        await mailer.close();
      }
      assert.ok(err instanceof MailgateError, `expected a refusal, got ${String(err)}`);
      assert.equal(err.code, 'SMTP_REJECTED');
      assert.equal(err.phase, 'send');
      assert.equal(err.retryable, false);
      assert.equal(err.smtp?.command, 'RCPT TO');
      // Postfix's own refusal; Dovecot passes on the sink's with its own enhanced code in front.
      assert.match(err.reply ?? '', /^550 5\.\d\.\d .*User unknown/);
      if (t.name === 'Postfix') await waitForLog(() => S().postfixLog(), new RegExp(`disconnect from \\S+\\[${esc(src)}\\].* rcpt=0/1 bdat=0/1 rset=1`), 'Postfix: BDAT refused, then RSET');
      assert.ok(!S().sink.messages.some((m) => m.messageId === c.messageId), 'nothing was delivered');
    });
  }
});
