/**
 * The pipelined send end to end (issue 19): createMailer against the emulated Exchange, which
 * offers PIPELINING and CHUNKING like Exchange Online and counts the round trips of each message
 * (src/emulator/smtp-chunking.ts). One round trip per message when both are offered; two with
 * PIPELINING alone; one per command with MAILGATE_SMTP_PIPELINING=off or a server that offers
 * neither. The bytes arrive unchanged on every path, and each refusal in a pipelined batch is the
 * same error as on the one-command-at-a-time path, with the session left clean.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startEmulator, buildTenantState, type Emulator, type BuiltTenant, type SmtpSessionLogEntry } from '../../src/emulator/index.js';
import { parseSettings, type EmailSettings } from '../../src/core/settings.js';
import { createMailer, type MailerDeps } from '../../src/mailer.js';
import { MailgateError } from '../../src/core/errors.js';
import { diagnose } from '../../src/core/diagnosis/index.js';

let emu: Emulator;
let tenant: BuiltTenant;
before(async () => {
  tenant = buildTenantState({ extraMailboxes: [{ address: 'ceo@contoso.onmicrosoft.com' }] });
  emu = await startEmulator(tenant.state, { limits: false });
});
after(async () => {
  await emu.stop();
});

function settings(): EmailSettings {
  const r = parseSettings({
    clientId: tenant.clientId, tenantId: tenant.tenantId, clientSecret: tenant.clientSecret ?? undefined, authorizedFrom: tenant.authorizedFrom,
    smtpHost: emu.smtp.host, smtpPort: emu.smtp.port, authorityHost: emu.authorityHost,
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r.settings;
}

/** The emulator as Exchange (both extensions), or with one turned off; faults, stats, log and messages cleared. */
function server(smtp?: { pipelining?: boolean; chunking?: boolean }): void {
  emu.setState({ ...tenant.state, ...(smtp ? { smtp } : {}) });
  emu.clearFaults();
  emu.resetStats();
  emu.clearMessages();
  emu.clearLog();
}

/** One connection, so every message after the first goes over a warm, authenticated session. */
const mailerWith = (deps: MailerDeps = {}) => createMailer(settings(), { ca: emu.caPem, maxConnections: 1, ...deps });

// A relayed message is sent byte for byte: dots at line starts, a lone dot line, 8-bit text.
const CONTENT = Buffer.from(
  `From: <${'noreply@contoso.onmicrosoft.com'}>\r\nTo: <a@example.com>\r\nSubject: dots\r\nMessage-ID: <dots-1@contoso.onmicrosoft.com>\r\n\r\n.\r\n..two dots\r\n.leading\r\nGrüße\r\n`,
  'utf8',
);
const raw = (to: string[] = ['a@example.com'], from = tenant.authorizedFrom) => ({ to, subject: 'dots', raw: { content: CONTENT, envelope: { from, to } } });

/** Waits until the emulator's log shows `command` (the RSET after a refusal is not waited for by the client). */
async function logged(command: string): Promise<string[]> {
  const deadline = Date.now() + 5000;
  while (!commands().includes(command) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return commands();
}

const commands = (): string[] => emu.log().filter((e): e is SmtpSessionLogEntry => e.kind === 'smtp').flatMap((e) => e.commands.map((c) => `${c.command.split(' ')[0]} -> ${(c.reply ?? '').slice(0, 3)}`));

/** Sends `n` messages one after the other and returns the round trips per message the emulator counted. */
async function roundTripsFor(deps: MailerDeps, n = 3, to?: string[]): Promise<number[]> {
  emu.resetStats();
  emu.clearMessages();
  const mailer = mailerWith(deps);
  const perMessage: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const r = await mailer.send(raw(to));
      assert.match(r.response, /^250 2\.0\.0 OK /);
      perMessage.push(emu.stats().smtpRoundTripsLast);
    }
    assert.equal(mailer.stats.connectionsOpened, 1, 'one warm connection');
  } finally {
    await mailer.close();
  }
  assert.equal(emu.stats().smtpTransactions, n);
  for (const m of emu.messages()) assert.deepEqual(emu.rawMessage(m.id), CONTENT, 'the stored message is the exact bytes sent');
  return perMessage;
}

describe('round trips per message', () => {
  test('PIPELINING and CHUNKING (Exchange): MAIL, RCPT, BDAT LAST and the message in one round trip', async () => {
    server();
    assert.deepEqual(await roundTripsFor({}), [1, 1, 1]);
    const sent = commands();
    assert.ok(sent.includes('BDAT -> 250'), sent.join(', '));
    assert.ok(!sent.some((c) => c.startsWith('DATA')), 'no DATA');
  });

  test('three recipients: still one round trip', async () => {
    server();
    assert.deepEqual(await roundTripsFor({}, 2, ['a@example.com', 'b@example.com', 'c@example.com']), [1, 1]);
  });

  test('PIPELINING without CHUNKING: MAIL/RCPT/DATA pipelined, then the message: two', async () => {
    server({ chunking: false });
    assert.deepEqual(await roundTripsFor({}), [2, 2, 2]);
    assert.ok(!commands().some((c) => c.startsWith('BDAT')));
  });

  test('MAILGATE_SMTP_PIPELINING=off (pipelining: false): one command per round trip even on Exchange', async () => {
    server();
    assert.deepEqual(await roundTripsFor({ pipelining: false }, 2), [4, 4]);
    assert.deepEqual(await roundTripsFor({ pipelining: false }, 1, ['a@example.com', 'b@example.com']), [5]);
    assert.ok(!commands().some((c) => c.startsWith('BDAT')));
  });

  test('a server without PIPELINING (CHUNKING alone is not used): one command per round trip', async () => {
    server({ pipelining: false });
    assert.deepEqual(await roundTripsFor({}, 2), [4, 4]);
  });
});

describe('refusals in a pipelined batch', () => {
  test('the first of three recipients refused: a success listing it, one round trip, the others get the message', async () => {
    server();
    emu.setFaults({ smtpTransient: { code: 452, command: 'RCPT', count: 1, message: '4.5.3 Too many recipients' } });
    const mailer = mailerWith();
    try {
      const r = await mailer.send(raw(['a@example.com', 'b@example.com', 'c@example.com']));
      assert.deepEqual(r.rejected, ['a@example.com']);
      assert.deepEqual(r.accepted, ['b@example.com', 'c@example.com']);
      assert.deepEqual(emu.messages().at(-1)!.to, ['b@example.com', 'c@example.com']);
      assert.equal(emu.stats().smtpRoundTripsLast, 1);
      // The session is still good: the next message uses it.
      await mailer.send(raw());
      assert.equal(mailer.stats.connectionsOpened, 1);
    } finally {
      await mailer.close();
    }
  });

  test('every recipient refused: the RCPT refusal as today, BDAT LAST answered 503 5.5.2 and read, RSET, nothing stored', async () => {
    server();
    emu.setFaults({ smtpTransient: { code: 452, command: 'RCPT', count: 2, message: '4.5.3 Too many recipients' } });
    const mailer = mailerWith();
    try {
      const err = await mailer.send(raw(['a@example.com', 'b@example.com'])).then(() => assert.fail('expected a refusal'), (e: unknown) => e);
      assert.ok(err instanceof MailgateError);
      assert.equal(err.code, 'SMTP_TRANSIENT');
      assert.equal(err.phase, 'send');
      assert.equal(err.retryable, true);
      assert.equal(err.reply, '452 4.5.3 Too many recipients');
      assert.equal(err.smtp?.command, 'RCPT TO');
      assert.equal(emu.messages().length, 0);
      // The next message goes out (on a new session: a failed one is never reused).
      await mailer.send(raw());
    } finally {
      await mailer.close();
    }
    const sent = await logged('RSET -> 250');
    assert.ok(sent.includes('BDAT -> 503'), sent.join(', '));
    assert.ok(sent.includes('RSET -> 250'), `RSET after the refused batch: ${sent.join(', ')}`);
    assert.ok(!sent.some((c) => c.endsWith('-> 500')), 'the message bytes were never read as commands');
    assert.equal(emu.messages().length, 1);
  });

  test('MAIL FROM refused: that reply, the RCPT and BDAT replies still read, the message bytes never taken for commands', async () => {
    server();
    emu.setFaults({ smtpTransient: { code: 451, command: 'MAIL', count: 1 } });
    const mailer = mailerWith();
    try {
      const err = await mailer.send(raw(['a@example.com', 'b@example.com'])).then(() => assert.fail('expected a refusal'), (e: unknown) => e);
      assert.ok(err instanceof MailgateError);
      assert.equal(err.code, 'SMTP_TRANSIENT');
      assert.equal(err.smtp?.command, 'MAIL FROM');
      assert.match(err.reply ?? '', /^451 4\.7\.0 Temporary server error/);
      await mailer.send(raw());
    } finally {
      await mailer.close();
    }
    const sent = commands();
    assert.equal(sent.filter((c) => c === 'RCPT -> 503').length, 2, sent.join(', '));
    assert.ok(sent.includes('BDAT -> 503'));
    assert.ok(!sent.some((c) => c.startsWith('RSET')), 'no transaction to reset after a refused MAIL FROM');
    assert.ok(!sent.some((c) => c.endsWith('-> 500')), 'the message bytes were never read as commands');
    assert.equal(emu.messages().length, 1);
  });

  test('421 in the middle of a batch (the server closes): that reply, retryable, not a lost connection', async () => {
    server();
    emu.setFaults({ smtpTransient: { code: 421, command: 'RCPT', count: 1 } });
    const mailer = mailerWith();
    try {
      const err = await mailer.send(raw(['a@example.com', 'b@example.com'])).then(() => assert.fail('expected a refusal'), (e: unknown) => e);
      assert.ok(err instanceof MailgateError);
      assert.equal(err.code, 'SMTP_TRANSIENT');
      assert.equal(err.retryable, true);
      assert.equal(err.smtp?.command, 'RCPT TO');
      assert.match(err.reply ?? '', /^421 /);
      await mailer.send(raw());
      assert.equal(mailer.stats.connectionsOpened, 2, 'a new connection after the 421');
    } finally {
      await mailer.close();
    }
  });

  test('BDAT LAST refused (SendAs denied): the same error and diagnosis as a refused DATA', async () => {
    const refusal = async (smtp?: { chunking: boolean }) => {
      server(smtp);
      const mailer = mailerWith();
      try {
        return await mailer.send(raw(['a@example.com'], 'ceo@contoso.onmicrosoft.com')).then(() => assert.fail('expected a refusal'), (e: unknown) => e as MailgateError);
      } finally {
        await mailer.close();
      }
    };
    const pipelined = await refusal();
    const sent = await logged('RSET -> 250');
    const data = await refusal({ chunking: false });
    assert.ok(pipelined instanceof MailgateError && data instanceof MailgateError);
    assert.match(pipelined.reply ?? '', /^554 5\.2\.252 SendAsDenied; /);
    assert.equal(pipelined.smtp?.command, 'BDAT');
    assert.equal(data.smtp?.command, 'DATA');
    for (const k of ['code', 'phase', 'retryable', 'reply'] as const) assert.equal(pipelined[k], data[k], k);
    assert.equal(diagnose(pipelined, { authorizedFrom: tenant.authorizedFrom }).id, diagnose(data, { authorizedFrom: tenant.authorizedFrom }).id);
    assert.ok(sent.includes('BDAT -> 554') && sent.includes('RSET -> 250'), sent.join(', '));
  });
});
