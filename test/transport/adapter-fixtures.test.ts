/**
 * The adapters against the real reply strings: every SMTP reply fixture goes through
 * smtpErrorToMailgate (as nodemailer reports it) and every Entra error body through
 * tokenErrorFromResponse (as the token endpoint sends it). The resulting MailgateError must get
 * the fixture's retry decision from the retry table and the fixture's diagnosis rule — the
 * core tests pin the tables with hand-built errors; these pin what the adapters feed them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { diagnose } from '../../src/core/diagnosis/index.js';
import type { DiagnosisContext } from '../../src/core/diagnosis/types.js';
import { classifyForRetry } from '../../src/core/retry-policy.js';
import { smtpErrorToMailgate } from '../../src/transport/smtp-errors.js';
import { tokenErrorFromResponse } from '../../src/auth/token-errors.js';
import { FIXTURE_CONTEXT } from '../helpers/diagnosis-context.js';

interface SmtpFixture { reply: string; command: string; expectRule: string; expectRetryable: boolean; ctx?: Partial<DiagnosisContext> }
interface AadstsFixture { status: number; body: unknown; retryAfterSeconds?: number; expectRule: string; expectRetryable: boolean }
const load = <T>(name: string): T[] => JSON.parse(readFileSync(new URL(`../../../test/fixtures/replies/${name}`, import.meta.url), 'utf8')) as T[];

const CTX: DiagnosisContext = FIXTURE_CONTEXT;

/** nodemailer's error code for a failed command. */
function nodemailerCode(command: string): string {
  if (command.startsWith('AUTH')) return 'EAUTH';
  if (command.startsWith('MAIL') || command.startsWith('RCPT')) return 'EENVELOPE';
  if (command === 'DATA') return 'EMESSAGE';
  return 'EPROTOCOL';
}

describe('SMTP replies through smtpErrorToMailgate', () => {
  for (const f of load<SmtpFixture>('smtp-replies.json')) {
    it(`${f.command} ${f.reply.slice(0, 60)}`, () => {
      const e = smtpErrorToMailgate(
        { code: nodemailerCode(f.command), command: f.command, responseCode: Number(f.reply.slice(0, 3)), response: f.reply, message: `Command failed: ${f.reply}` },
        { host: 'smtp.office365.com', port: 587, connected: true },
      );
      assert.equal(e.reply, f.reply, 'the raw reply is kept');
      assert.equal(classifyForRetry(e).retryable, f.expectRetryable, classifyForRetry(e).reason);
      assert.equal(diagnose(e, { ...CTX, ...f.ctx }).id, f.expectRule);
    });
  }
});

describe('Entra error bodies through tokenErrorFromResponse', () => {
  for (const f of load<AadstsFixture>('aadsts-responses.json')) {
    it(`${f.status} ${f.expectRule}`, () => {
      const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
      if (f.retryAfterSeconds !== undefined) headers['retry-after'] = String(f.retryAfterSeconds);
      const e = tokenErrorFromResponse(
        { status: f.status, headers, body: f.body === null ? '' : JSON.stringify(f.body) },
        { tenantId: CTX.tenantId!, clientId: CTX.clientId!, tokenEndpoint: `https://login.microsoftonline.com/${CTX.tenantId}/oauth2/v2.0/token`, secrets: [] },
      );
      assert.equal(e.phase, 'token');
      assert.equal(classifyForRetry(e).retryable, f.expectRetryable, classifyForRetry(e).reason);
      assert.equal(diagnose(e, CTX).id, f.expectRule);
    });
  }
});
