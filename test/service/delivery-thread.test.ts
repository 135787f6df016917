/**
 * The delivery thread: what crosses the thread boundary (settings with secrets, errors with
 * their code and raw reply, attachments) and the thread-backed mailer against the emulator
 * (real worker thread, real TLS, real token endpoint).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MailgateError } from '../../src/core/errors.js';
import { classifyForRetry } from '../../src/core/retry-policy.js';
import { Secret, scrubText } from '../../src/core/secret.js';
import { parseSettings, type EmailSettings, type RawSettings } from '../../src/core/settings.js';
import { buildTenantState, startEmulator, type BuiltTenant, type Emulator } from '../../src/emulator/index.js';
import { DeliveryThread } from '../../src/service/delivery/thread/delivery-thread.js';
import { createLogger } from '../../src/log/logger.js';
import { LineCapture } from './helpers.js';
import { errorFromPlain, errorToPlain, messageFromClone, settingsFromPlain, settingsToPlain } from '../../src/service/delivery/thread/protocol.js';

describe('delivery thread protocol', () => {
  it('settings keep their secrets as Secret across the boundary', () => {
    const r = parseSettings({ clientId: '11111111-1111-1111-1111-111111111111', tenantId: '22222222-2222-2222-2222-222222222222', clientSecret: 'abc~secret-value-123', authorizedFrom: 'app@contoso.com' });
    assert.ok(r.ok);
    const plain = structuredClone(settingsToPlain(r.settings));
    const back = settingsFromPlain(plain);
    assert.ok(back.clientSecret instanceof Secret);
    assert.equal(back.clientSecret.reveal(), 'abc~secret-value-123');
    assert.equal(String(back.clientSecret), '[redacted]');
    assert.equal(back.smtpHost, 'smtp.office365.com');
    assert.equal(back.smtpPort, 587);
  });

  it('a MailgateError comes back with its code, phase, retryability and raw reply', () => {
    const e = new MailgateError({
      code: 'AUTH_FAILED', phase: 'auth', retryable: false, message: 'refused',
      smtp: { code: 535, enhanced: '5.7.3', raw: '535 5.7.3 Authentication unsuccessful [X]', command: 'AUTH XOAUTH2' },
      context: { host: 'smtp.office365.com' },
      cause: Object.assign(new Error('socket'), { code: 'ECONNRESET' }),
    });
    const back = errorFromPlain(structuredClone(errorToPlain(e)));
    assert.ok(back instanceof MailgateError);
    assert.equal(back.code, 'AUTH_FAILED');
    assert.equal(back.phase, 'auth');
    assert.equal(back.retryable, false);
    assert.equal(back.reply, '535 5.7.3 Authentication unsuccessful [X]');
    assert.equal(back.smtp?.command, 'AUTH XOAUTH2');
    assert.equal(back.context.host, 'smtp.office365.com');
    assert.equal((back.cause as { code?: string }).code, 'ECONNRESET');
  });

  it('any other error comes back as a plain Error with its message and system code', () => {
    const back = errorFromPlain(structuredClone(errorToPlain(Object.assign(new Error('boom'), { code: 'EPIPE' }))));
    assert.ok(!(back instanceof MailgateError));
    assert.equal(back.message, 'boom');
    assert.equal((back as { code?: string }).code, 'EPIPE');
  });

  it('free texts are scrubbed before they cross: a library message echoing a secret or a token does not leave the thread', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL291dGxvb2sifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    const cause = Object.assign(new Error(`write EPIPE after AUTH XOAUTH2 ${Buffer.from('user=a@b.c\x01auth=Bearer x\x01\x01').toString('base64')}`), { code: 'EPIPE' });
    const e = new MailgateError({ code: 'CONNECTION_LOST', phase: 'auth', message: `lost while sending token ${jwt} with secret abc~secret-value-123`, cause });
    const plain = errorToPlain(e, (t) => scrubText(t, ['abc~secret-value-123']));
    const text = JSON.stringify(plain);
    assert.ok(!text.includes(jwt) && !text.includes('abc~secret-value-123') && !text.includes('dXNlcj'), text);
    assert.equal(plain.cause?.code, 'EPIPE', 'the system code stays for the diagnosis');
  });

  it('attachments arrive as Buffers again', () => {
    const cloned = structuredClone({ to: ['a@example.com'], subject: 's', attachments: [{ filename: 'a.txt', contentType: 'text/plain', content: Buffer.from('hello') }] });
    assert.ok(!Buffer.isBuffer(cloned.attachments[0].content), 'structured clone drops the Buffer type');
    const m = messageFromClone(cloned);
    assert.ok(Buffer.isBuffer(m.attachments![0].content));
    assert.equal(m.attachments![0].content.toString(), 'hello');
  });
});

describe('thread-backed mailer against the emulator', () => {
  let emu: Emulator;
  let thread: DeliveryThread;
  before(async () => {
    emu = await startEmulator(undefined, { limits: { messagesPerMinute: Infinity } });
    thread = new DeliveryThread();
  });
  after(async () => {
    await thread.stop();
    await emu.stop();
  });

  const use = (t: BuiltTenant) => {
    emu.setState(t.state);
    emu.clearFaults();
    emu.resetStats();
    emu.clearMessages();
    return t;
  };
  const settingsFor = (t: BuiltTenant, extra: RawSettings = {}): EmailSettings => {
    const r = parseSettings({ clientId: t.clientId, tenantId: t.tenantId, clientSecret: t.clientSecret ?? undefined, authorizedFrom: t.authorizedFrom, smtpHost: emu.smtp.host, smtpPort: emu.smtp.port, authorityHost: emu.authorityHost, ...extra });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    return r.settings;
  };

  it('sends concurrently with one token and at most 3 connections; counters follow the thread', async () => {
    const t = use(buildTenantState());
    const mailer = thread.createMailer(settingsFor(t), { ca: emu.caPem });
    try {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => mailer.send({ to: [`u${i}@example.com`], subject: `T ${i}`, text: `body ${i}` })));
      assert.ok(results.every((r) => r.response.startsWith('250 ')));
      assert.equal(emu.messages().length, 20);
      assert.equal(emu.stats().tokenRequests, 1);
      assert.equal(mailer.tokenProvider?.requestCount, 1);
      assert.ok(mailer.stats.peakConnections >= 1 && mailer.stats.peakConnections <= 3);
      assert.ok(emu.stats().peakAuthenticatedConnections[t.authorizedFrom.toLowerCase()] <= 3);
    } finally {
      await mailer.close();
    }
  });

  it('an attachment survives the thread boundary byte for byte', async () => {
    const t = use(buildTenantState());
    const mailer = thread.createMailer(settingsFor(t), { ca: emu.caPem });
    try {
      const content = Buffer.from([0, 1, 2, 250, 255, 10, 13]);
      const r = await mailer.send({ to: ['a@example.com'], subject: 'att', text: 'see attached', attachments: [{ filename: 'b.bin', contentType: 'application/octet-stream', content }] });
      const raw = emu.rawMessage(emu.messages()[0].id)!.toString();
      assert.ok(raw.includes(content.toString('base64')), 'the attachment is in the message');
      assert.match(r.messageId, /^<.+@.+>$/);
    } finally {
      await mailer.close();
    }
  });

  it('a mailer reusing the token provider of the previous one requests no new token', async () => {
    const t = use(buildTenantState());
    const first = thread.createMailer(settingsFor(t), { ca: emu.caPem });
    await first.send({ to: ['a@example.com'], subject: '1', text: '1' });
    const second = thread.createMailer(settingsFor(t, { socketTimeoutMs: 30_000 }), { ca: emu.caPem, tokenProvider: first.tokenProvider });
    await first.close();
    try {
      await second.send({ to: ['a@example.com'], subject: '2', text: '2' });
      assert.equal(emu.stats().tokenRequests, 1);
      assert.equal(second.tokenProvider, first.tokenProvider, 'one counter for the shared provider');
      assert.equal(second.tokenProvider?.requestCount, 1);
    } finally {
      await second.close();
    }
  });

  it('three settings changes in a row with the same credential still share one token', async () => {
    const t = use(buildTenantState());
    let current = thread.createMailer(settingsFor(t), { ca: emu.caPem });
    await current.send({ to: ['a@example.com'], subject: '0', text: '0' });
    for (let i = 1; i <= 3; i++) {
      const next = thread.createMailer(settingsFor(t, { socketTimeoutMs: 30_000 + i }), { ca: emu.caPem, tokenProvider: current.tokenProvider });
      await current.close();
      current = next;
      await current.send({ to: ['a@example.com'], subject: String(i), text: String(i) });
    }
    try {
      assert.equal(emu.stats().tokenRequests, 1, 'the emulator issued one token');
      assert.equal(current.tokenProvider?.requestCount, 1, 'and Mailgate counts one');
    } finally {
      await current.close();
    }
  });

  it('a refused secret rejects with the MailgateError of the thread: code, phase and AADSTS', async () => {
    const t = use(buildTenantState());
    const mailer = thread.createMailer(settingsFor(t, { clientSecret: 'wrong-secret-value-000' }), { ca: emu.caPem, tokenRetry: { maxAttempts: 1 } });
    try {
      await assert.rejects(mailer.send({ to: ['a@example.com'], subject: 'x', text: 'x' }), (e: unknown) => {
        assert.ok(e instanceof MailgateError);
        assert.equal(e.code, 'TOKEN_REJECTED');
        assert.equal(e.phase, 'token');
        assert.ok(e.token?.aadsts?.includes(7000215), JSON.stringify(e.token));
        assert.ok(!JSON.stringify(e).includes('wrong-secret-value-000'));
        return true;
      });
    } finally {
      await mailer.close();
    }
  });

  it('an unreadable certificate fails when the mailer is built, on the calling thread', () => {
    const t = use(buildTenantState());
    assert.throws(() => thread.createMailer(settingsFor(t, { clientCertificatePath: '/nonexistent/cert.pem' }), { ca: emu.caPem }));
  });
});

describe('a delivery thread that dies', () => {
  it('rejects the sends it held as INTERRUPTED (retried by the worker), logs it, and starts a new thread for the next send', async () => {
    const logs = new LineCapture();
    const thread = new DeliveryThread(createLogger({ destination: logs, level: 'debug' }), { entry: new URL('../fixtures/dying-delivery-thread.js', import.meta.url) });
    try {
      await thread.warmUp();
      assert.equal(thread.problem(), undefined);
      const r = parseSettings({ clientId: '11111111-1111-1111-1111-111111111111', tenantId: '22222222-2222-2222-2222-222222222222', clientSecret: 'abc~secret-value-123', authorizedFrom: 'app@contoso.com' });
      assert.ok(r.ok);
      const mailer = thread.createMailer(r.settings, {});
      for (let round = 1; round <= 2; round++) {
        await assert.rejects(mailer.send({ to: ['a@example.com'], subject: 's', text: 't' }), (e: unknown) => {
          assert.ok(e instanceof MailgateError);
          assert.equal(e.code, 'INTERRUPTED');
          assert.equal(classifyForRetry(e).retryable, true, 'the retry table retries it');
          assert.notEqual(e.context.notSent, true, 'it may have been sent: an attempt is recorded');
          assert.match(e.message, /delivery thread exited \(code 3\)/);
          return true;
        }, `round ${round}`);
      }
      assert.equal(logs.lines.filter((l) => l.includes('the delivery thread exited')).length, 2, 'each death is logged');
      assert.match(thread.problem() ?? '', /ended 2 times in a row \(last exit code 3\)/, 'and /readyz can say so');
      await mailer.close();
    } finally {
      await thread.stop();
    }
  });
});
