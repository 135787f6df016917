import { test } from 'node:test';
import assert from 'node:assert/strict';
import { smtpErrorToMailgate } from '../../src/transport/smtp-errors.js';

const ctx = { host: 'smtp.office365.com', port: 587, connected: true };

test('535 5.7.3 at AUTH is a permanent AUTH_FAILED with the raw reply', () => {
  const e = smtpErrorToMailgate(
    { code: 'EAUTH', command: 'AUTH XOAUTH2', responseCode: 535, response: '535 5.7.3 Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com]', message: 'Invalid login' },
    ctx,
  );
  assert.equal(e.code, 'AUTH_FAILED');
  assert.equal(e.phase, 'auth');
  assert.equal(e.retryable, false);
  assert.equal(e.smtp?.code, 535);
  assert.equal(e.smtp?.enhanced, '5.7.3');
  assert.equal(e.reply, '535 5.7.3 Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com]');
});

test('432 4.3.2 is transient and retryable', () => {
  const e = smtpErrorToMailgate({ code: 'EAUTH', command: 'AUTH XOAUTH2', responseCode: 432, response: '432 4.3.2 Concurrent connections limit exceeded.' }, ctx);
  assert.equal(e.code, 'SMTP_TRANSIENT');
  assert.equal(e.retryable, true);
});

test('554 5.2.252 SendAsDenied at DATA is a permanent rejection in the send phase', () => {
  const e = smtpErrorToMailgate({ code: 'EMESSAGE', command: 'DATA', responseCode: 554, response: '554 5.2.252 SendAsDenied; a@contoso.com not allowed to send as b@contoso.com; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied' }, ctx);
  assert.equal(e.code, 'SMTP_REJECTED');
  assert.equal(e.phase, 'send');
  assert.equal(e.retryable, false);
});

test('connection and greeting timeouts are retryable connect failures', () => {
  assert.equal(smtpErrorToMailgate({ code: 'ETIMEDOUT', message: 'Connection timeout' }, { ...ctx, connected: false }).code, 'CONNECT_TIMEOUT');
  assert.equal(smtpErrorToMailgate({ code: 'ETIMEDOUT', message: 'Greeting never received' }, { ...ctx, connected: false }).code, 'GREETING_TIMEOUT');
  const refused = smtpErrorToMailgate({ code: 'ESOCKET', message: 'connect ECONNREFUSED 127.0.0.1:1', errno: 'ECONNREFUSED' }, { ...ctx, connected: false });
  assert.equal(refused.code, 'CONNECT_FAILED');
  assert.equal(refused.retryable, true);
});

test('an untrusted certificate is a TLS failure, not retried', () => {
  const e = smtpErrorToMailgate({ code: 'ESOCKET', message: 'unable to verify the first certificate', originalCode: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', command: 'CONN' }, { ...ctx, connected: false });
  assert.equal(e.code, 'TLS_FAILED');
  assert.equal(e.retryable, false);
});

test('STARTTLS refused by the server is STARTTLS_UNAVAILABLE', () => {
  const e = smtpErrorToMailgate({ code: 'ETLS', command: 'STARTTLS', responseCode: 500, response: '500 Error: command not recognized', message: 'Error upgrading connection with STARTTLS' }, ctx);
  assert.equal(e.code, 'STARTTLS_UNAVAILABLE');
  assert.equal(e.phase, 'tls');
});

test('a token in an error message is scrubbed', () => {
  const jwt = 'eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJodHRwczovL291dGxvb2sub2ZmaWNlMzY1LmNvbSJ9.c2lnbmF0dXJlc2lnbmF0dXJl';
  const e = smtpErrorToMailgate({ code: 'ECONNECTION', message: `failed with ${jwt}` }, { ...ctx, secrets: [jwt] });
  assert.equal(e.message.includes(jwt), false);
});
