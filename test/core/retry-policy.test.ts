/**
 * The retry policy, pinned by the same real-reply fixtures as the diagnosis: 4xx and network
 * failures retry, 5xx and refused credentials never do (continuous-error throttling).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { MailgateError, parseSmtpReply, type ErrorCode, type TokenEndpointReply } from '../../src/core/errors.js';
import { classifyForRetry, RETRY_RULES } from '../../src/core/retry-policy.js';

interface SmtpFixture { reply: string; command?: string; expectRetryable: boolean; expectMinDelayMs?: number }
interface AadstsFixture {
  status: number;
  body: { error: string; error_description: string; error_codes: number[] } | null;
  code?: ErrorCode;
  retryAfterSeconds?: number;
  expectRule: string;
  expectRetryable: boolean;
  expectMinDelayMs?: number;
}
const load = <T>(name: string): T[] => JSON.parse(readFileSync(new URL(`../../../test/fixtures/replies/${name}`, import.meta.url), 'utf8')) as T[];
const SMTP = load<SmtpFixture>('smtp-replies.json');
const AADSTS = load<AadstsFixture>('aadsts-responses.json');

function smtpError(f: SmtpFixture): MailgateError {
  const smtp = parseSmtpReply(f.reply, f.command)!;
  const code: ErrorCode = smtp.code < 500 ? 'SMTP_TRANSIENT' : f.command?.startsWith('AUTH') ? 'AUTH_FAILED' : 'SMTP_REJECTED';
  return new MailgateError({ code, phase: f.command?.startsWith('AUTH') ? 'auth' : 'send', message: f.reply, smtp });
}

function tokenError(f: AadstsFixture): MailgateError {
  const token: TokenEndpointReply = { status: f.status, error: f.body?.error, aadsts: f.body?.error_codes, description: f.body?.error_description, retryAfterSeconds: f.retryAfterSeconds };
  return new MailgateError({ code: f.code ?? 'TOKEN_REJECTED', phase: 'token', message: 'token request failed', token });
}

describe('SMTP reply fixtures', () => {
  for (const f of SMTP) {
    it(`${f.expectRetryable ? 'retry' : 'never'} ← ${f.reply.slice(0, 60)}`, () => {
      const d = classifyForRetry(smtpError(f));
      assert.equal(d.retryable, f.expectRetryable, d.reason);
      assert.ok(d.reason.length > 10 && d.rule.length > 0);
      if (f.expectMinDelayMs !== undefined) assert.equal(d.minDelayMs, f.expectMinDelayMs);
      if (!d.retryable) assert.equal(d.minDelayMs, undefined);
    });
  }

  it('never retries a 5xx reply, whatever our error code says', () => {
    for (const f of SMTP.filter((x) => x.reply.startsWith('5'))) {
      for (const code of ['AUTH_FAILED', 'SMTP_REJECTED', 'SMTP_TRANSIENT', 'CONNECTION_LOST'] as ErrorCode[]) {
        const e = new MailgateError({ code, phase: 'send', message: 'x', smtp: parseSmtpReply(f.reply, f.command), retryable: true });
        assert.equal(classifyForRetry(e).retryable, false, `${code} ${f.reply}`);
      }
    }
  });

  it('a 4xx reply at AUTH is still retried (transient front end)', () => {
    const e = new MailgateError({ code: 'AUTH_FAILED', phase: 'auth', message: 'x', smtp: parseSmtpReply('421 4.7.0 Temporary server error. Please try again later. PRX4 [AM6P194CA0001.EURP194.PROD.OUTLOOK.COM]', 'AUTH XOAUTH2') });
    assert.deepEqual(classifyForRetry(e), { retryable: true, minDelayMs: 5000, rule: 'smtp-421', reason: classifyForRetry(e).reason });
  });

  it('continuous-error throttling is named as such', () => {
    const e = new MailgateError({ code: 'SMTP_REJECTED', phase: 'send', message: 'x', smtp: parseSmtpReply('550 5.2.252 Sender throttled due to continuous send as denied errors.', 'MAIL FROM') });
    const d = classifyForRetry(e);
    assert.equal(d.rule, 'smtp-550-5.2.25x-throttled');
    assert.match(d.reason, /prolongs/);
  });
});

describe('token endpoint fixtures', () => {
  for (const f of AADSTS) {
    it(`${f.expectRetryable ? 'retry' : 'never'} ← ${f.expectRule}`, () => {
      const d = classifyForRetry(tokenError(f));
      assert.equal(d.retryable, f.expectRetryable, d.reason);
      if (f.expectMinDelayMs !== undefined) assert.equal(d.minDelayMs, f.expectMinDelayMs);
    });
  }

  it('honours Retry-After, capped at one hour', () => {
    const at = (s: number | undefined, status = 503) =>
      classifyForRetry(new MailgateError({ code: 'TOKEN_UNAVAILABLE', phase: 'token', message: 'x', token: { status, retryAfterSeconds: s } })).minDelayMs;
    assert.equal(at(42), 42000);
    assert.equal(at(0), 0);
    assert.equal(at(999999), 3600000);
    assert.equal(at(undefined), 2000);
    assert.equal(at(undefined, 429), 10000);
    assert.equal(at(7, 429), 7000);
  });

  it('a network failure reaching the token endpoint is retried', () => {
    const e = new MailgateError({ code: 'TOKEN_UNAVAILABLE', phase: 'token', message: 'x', cause: Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' }) });
    assert.equal(classifyForRetry(e).retryable, true);
  });

  it('an AADSTS code in the description alone is enough', () => {
    const e = new MailgateError({ code: 'TOKEN_REJECTED', phase: 'token', message: 'x', token: { status: 400, description: 'AADSTS50196: The server terminated an operation because it encountered a client request loop.' } });
    assert.deepEqual([classifyForRetry(e).retryable, classifyForRetry(e).minDelayMs], [true, 60000]);
  });
});

describe('token endpoint unreachable', () => {
  const network = (code: string, message: string) =>
    new MailgateError({ code: 'TOKEN_UNAVAILABLE', phase: 'token', message: `Token endpoint login.microsoftonline.com could not be reached: ${message} (${code})`, context: { errno: code }, cause: Object.assign(new Error(message), { code }) });
  it('an untrusted certificate (TLS inspection) is not retried: the same certificate comes back', () => {
    for (const [code, message] of [['SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'], ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'], ['ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"]]) {
      const d = classifyForRetry(network(code, message));
      assert.equal(d.retryable, false, code);
      assert.equal(d.rule, 'token-tls', code);
    }
  });
  it('a refused or timed-out connection is retried', () => {
    for (const [code, message] of [['ECONNREFUSED', 'connect ECONNREFUSED 20.190.160.1:443'], ['ETIMEDOUT', 'connect ETIMEDOUT 20.190.160.1:443']]) {
      assert.equal(classifyForRetry(network(code, message)).retryable, true, code);
    }
  });
});

describe('our error codes', () => {
  const cases: Array<[ErrorCode, boolean]> = [
    ['CONNECT_TIMEOUT', true], ['CONNECT_FAILED', true], ['GREETING_TIMEOUT', true], ['CONNECTION_LOST', true],
    ['TOKEN_UNAVAILABLE', true], ['SMTP_TRANSIENT', true], ['INTERRUPTED', true],
    ['TOKEN_REJECTED', false], ['STARTTLS_UNAVAILABLE', false], ['TLS_FAILED', false], ['AUTH_FAILED', false],
    ['SMTP_REJECTED', false], ['SETTINGS_INVALID', false], ['ARGUMENT_INVALID', false], ['INTERNAL', false],
  ];
  for (const [code, retryable] of cases) {
    it(`${code} → ${retryable ? 'retry' : 'never'}`, () => {
      const d = classifyForRetry(new MailgateError({ code, phase: 'send', message: 'x', retryable: !retryable }));
      assert.equal(d.retryable, retryable);
      if (retryable) assert.ok((d.minDelayMs ?? -1) >= 0);
    });
  }
});

describe('foreign errors', () => {
  it('raw network errors retry, TLS errors do not, unknown errors do not', () => {
    const sys = (code: string) => Object.assign(new Error(code), { code });
    assert.equal(classifyForRetry(sys('ECONNRESET')).retryable, true);
    assert.equal(classifyForRetry(sys('ETIMEDOUT')).retryable, true);
    assert.equal(classifyForRetry(sys('ECONNREFUSED')).retryable, true);
    assert.equal(classifyForRetry(sys('CERT_HAS_EXPIRED')).retryable, false);
    assert.equal(classifyForRetry(new Error('boom')).retryable, false);
    for (const thing of [null, undefined, 'x', 42, {}, new Proxy({}, { get() { throw new Error('trap'); } })]) {
      const d = classifyForRetry(thing);
      assert.equal(d.retryable, false);
      assert.ok(d.reason && d.rule);
    }
  });

  it('a nodemailer-shaped error is classified by its response', () => {
    const e = (response: string) => Object.assign(new Error(response), { code: 'EENVELOPE', response, responseCode: Number(response.slice(0, 3)) });
    assert.equal(classifyForRetry(e('432 4.3.2 Concurrent connections limit exceeded.')).minDelayMs, 60000);
    assert.equal(classifyForRetry(e('550 5.7.60 SMTP; Client does not have permissions to send as this sender')).retryable, false);
  });

  it('every row has an id and a reason', () => {
    for (const r of RETRY_RULES) assert.ok(r.rule && r.reason.length > 10);
    assert.equal(new Set(RETRY_RULES.map((r) => r.rule)).size, RETRY_RULES.length);
  });
});
