/**
 * Failures without a server reply: our error codes, refined by the system/TLS error code the
 * transport found (on the cause chain, nodemailer's originalCode, or only in the message), and
 * foreign errors the transport did not wrap.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MailgateError, parseSmtpReply, type ErrorCode, type Phase, type TokenEndpointReply } from '../../src/core/errors.js';
import { diagnose, type DiagnosisContext } from '../../src/core/diagnosis/index.js';

const CTX: DiagnosisContext = {
  clientId: '6731de76-14a6-49ae-97bc-6eba6914391e',
  tenantId: 'contoso.onmicrosoft.com',
  authorizedFrom: 'app@contoso.com',
  smtpHost: 'smtp.office365.com',
  smtpPort: 587,
  authorityHost: 'https://login.microsoftonline.com',
};

const PHASE: Record<ErrorCode, Phase> = {
  SETTINGS_INVALID: 'settings', ARGUMENT_INVALID: 'arguments', TOKEN_REJECTED: 'token', TOKEN_UNAVAILABLE: 'token',
  CONNECT_FAILED: 'connect', CONNECT_TIMEOUT: 'connect', GREETING_TIMEOUT: 'connect', STARTTLS_UNAVAILABLE: 'tls',
  TLS_FAILED: 'tls', AUTH_FAILED: 'auth', SMTP_TRANSIENT: 'send', SMTP_REJECTED: 'send', CONNECTION_LOST: 'send', INTERNAL: 'send', INTERRUPTED: 'send',
  GRAPH_AUTH_FAILED: 'auth', GRAPH_REJECTED: 'send', GRAPH_TRANSIENT: 'send', GRAPH_UNREACHABLE: 'connect', GRAPH_OUTCOME_UNKNOWN: 'send', GRAPH_TOO_LARGE: 'send',
  ROTATION_STEP_INVALID: 'settings', CREDENTIAL_READ_ONLY: 'settings', SETTINGS_CONFLICT: 'settings',
};

function sysError(message: string, props: Record<string, string>): Error {
  return Object.assign(new Error(message), props);
}

function err(code: ErrorCode, cause?: unknown, token?: TokenEndpointReply, message = 'failed'): MailgateError {
  return new MailgateError({ code, phase: PHASE[code], message, cause, token });
}

const CASES: Array<[string, MailgateError, string]> = [
  ['CONNECT_TIMEOUT', err('CONNECT_TIMEOUT'), 'connect-timeout'],
  ['CONNECT_FAILED ECONNREFUSED', err('CONNECT_FAILED', sysError('connect ECONNREFUSED 52.96.1.2:587', { code: 'ECONNREFUSED' })), 'connect-refused'],
  ['CONNECT_FAILED nodemailer ESOCKET/originalCode', err('CONNECT_FAILED', sysError('connect failed', { code: 'ESOCKET', originalCode: 'ECONNREFUSED' })), 'connect-refused'],
  ['CONNECT_FAILED ENOTFOUND', err('CONNECT_FAILED', sysError('getaddrinfo ENOTFOUND smtp.office365.cmo', { code: 'ENOTFOUND' })), 'connect-dns'],
  ['CONNECT_FAILED nodemailer EDNS', err('CONNECT_FAILED', sysError('DNS lookup failed', { code: 'EDNS' })), 'connect-dns'],
  ['CONNECT_FAILED EHOSTUNREACH', err('CONNECT_FAILED', sysError('connect EHOSTUNREACH', { code: 'EHOSTUNREACH' })), 'connect-unreachable'],
  ['CONNECT_FAILED ETIMEDOUT', err('CONNECT_FAILED', sysError('connect ETIMEDOUT 52.96.1.2:587', { code: 'ETIMEDOUT' })), 'connect-timeout'],
  ['CONNECT_FAILED code in context', new MailgateError({ code: 'CONNECT_FAILED', phase: 'connect', message: 'x', context: { systemCode: 'ECONNREFUSED' } }), 'connect-refused'],
  ['CONNECT_FAILED no signal', err('CONNECT_FAILED'), 'connect-failed'],
  ['GREETING_TIMEOUT', err('GREETING_TIMEOUT'), 'greeting-timeout'],
  ['STARTTLS_UNAVAILABLE', err('STARTTLS_UNAVAILABLE'), 'starttls-unavailable'],
  ['TLS self-signed in chain', err('TLS_FAILED', sysError('self-signed certificate in certificate chain', { code: 'SELF_SIGNED_CERT_IN_CHAIN' })), 'tls-untrusted-certificate'],
  ['TLS issuer, message only (nodemailer ETLS)', err('TLS_FAILED', sysError('Error initiating TLS - unable to get local issuer certificate', { code: 'ETLS' })), 'tls-untrusted-certificate'],
  ['TLS altname', err('TLS_FAILED', sysError("Hostname/IP does not match certificate's altnames: IP: 52.96.1.2 is not in the cert's list", { code: 'ERR_TLS_CERT_ALTNAME_INVALID' })), 'tls-hostname-mismatch'],
  ['TLS expired', err('TLS_FAILED', sysError('certificate has expired', { code: 'CERT_HAS_EXPIRED' })), 'tls-certificate-expired'],
  ['TLS wrong version number', err('TLS_FAILED', sysError('ssl3_get_record:wrong version number', { code: 'ERR_SSL_WRONG_VERSION_NUMBER' })), 'tls-version'],
  ['TLS protocol version alert', err('TLS_FAILED', sysError('tlsv1 alert protocol version', { code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' })), 'tls-version'],
  ['TLS other', err('TLS_FAILED', sysError('socket closed during handshake', { code: 'ECONNRESET' })), 'tls-failed'],
  ['CONNECTION_LOST', err('CONNECTION_LOST', sysError('read ECONNRESET', { code: 'ECONNRESET' })), 'connection-lost'],
  ['TOKEN_UNAVAILABLE 429', err('TOKEN_UNAVAILABLE', undefined, { status: 429, retryAfterSeconds: 20 }), 'token-unavailable-throttled'],
  ['TOKEN_UNAVAILABLE 503', err('TOKEN_UNAVAILABLE', undefined, { status: 503 }), 'token-unavailable-server'],
  ['TOKEN_UNAVAILABLE TLS interception', err('TOKEN_UNAVAILABLE', sysError('self signed certificate in certificate chain', { code: 'SELF_SIGNED_CERT_IN_CHAIN' })), 'token-unavailable-tls'],
  ['TOKEN_UNAVAILABLE network', err('TOKEN_UNAVAILABLE', sysError('getaddrinfo ENOTFOUND login.microsoftonline.com', { code: 'ENOTFOUND' })), 'token-unavailable-network'],
  ['TOKEN_REJECTED without AADSTS', err('TOKEN_REJECTED', undefined, { status: 400, error: 'invalid_request' }), 'token-rejected'],
  ['AUTH_FAILED without reply', err('AUTH_FAILED'), 'auth-failed'],
  ['SMTP_TRANSIENT without reply', err('SMTP_TRANSIENT'), 'smtp-4xx'],
  ['SMTP_REJECTED without reply', err('SMTP_REJECTED'), 'smtp-5xx'],
  ['SETTINGS_INVALID', err('SETTINGS_INVALID'), 'settings-invalid'],
  ['ARGUMENT_INVALID', err('ARGUMENT_INVALID'), 'argument-invalid'],
  ['INTERNAL', err('INTERNAL'), 'internal-error'],
  ['INTERRUPTED', err('INTERRUPTED'), 'send-interrupted'],
];

describe('transport rules', () => {
  for (const [name, error, id] of CASES) {
    it(`${name} → ${id}`, () => {
      const d = diagnose(error, CTX);
      assert.equal(d.id, id);
      assert.ok(d.summary && d.causes.length && d.fixes.length);
    });
  }

  it('TLS interception points to NODE_EXTRA_CA_CERTS, never to turning checks off', () => {
    const d = diagnose(CASES.find(([n]) => n === 'TLS self-signed in chain')![1], CTX);
    assert.match(d.fixes.join(' '), /NODE_EXTRA_CA_CERTS/);
    assert.ok(d.commands!.includes('openssl s_client -starttls smtp -connect smtp.office365.com:587 -servername smtp.office365.com -brief'));
  });

  it('token network failure gives commands for the authority host', () => {
    const d = diagnose(CASES.find(([n]) => n === 'TOKEN_UNAVAILABLE network')![1], CTX);
    assert.ok(d.commands!.includes('Test-NetConnection -ComputerName login.microsoftonline.com -Port 443'));
    assert.ok(d.commands!.some((c) => c.includes("'%{http_code}\\n' https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration")));
  });

  it('a specific code beats a generic 4xx/5xx reply explanation', () => {
    const e = new MailgateError({ code: 'STARTTLS_UNAVAILABLE', phase: 'tls', message: 'x', smtp: parseSmtpReply('454 4.7.0 TLS not available due to temporary reason', 'STARTTLS') });
    assert.equal(diagnose(e, CTX).id, 'starttls-unavailable');
    const t = new MailgateError({ code: 'SMTP_TRANSIENT', phase: 'send', message: 'x', smtp: parseSmtpReply('451 4.4.0 Temporary failure', 'DATA') });
    assert.equal(diagnose(t, CTX).id, 'smtp-4xx');
  });

  it('an unknown AADSTS code on a 503 is explained as the endpoint being unavailable', () => {
    const d = diagnose(err('TOKEN_UNAVAILABLE', undefined, { status: 503, error: 'temporarily_unavailable', aadsts: [90033] }), CTX);
    assert.equal(d.id, 'token-unavailable-server');
  });

  it('settings problems are listed with label, key and environment variable, without repeating them', () => {
    const e = new MailgateError({
      code: 'SETTINGS_INVALID', phase: 'settings', message: 'invalid settings',
      problems: [
        { key: 'clientId', env: 'MAILGATE_CLIENT_ID', label: 'Application (client) ID', message: 'Application (client) ID (clientId, MAILGATE_CLIENT_ID) must be a GUID' },
        { key: 'smtpPort', env: 'MAILGATE_SMTP_PORT', label: 'Port', message: 'must be between 1 and 65535' },
        { key: 'to', message: 'is not a valid address' },
      ],
    });
    const d = diagnose(e, CTX);
    assert.equal(d.id, 'settings-invalid');
    assert.ok(d.fixes.includes('Application (client) ID (clientId, MAILGATE_CLIENT_ID) must be a GUID'));
    assert.ok(d.fixes.includes('Port (smtpPort, MAILGATE_SMTP_PORT): must be between 1 and 65535'));
    assert.ok(d.fixes.includes('to: is not a valid address'));
  });
});

describe('foreign errors (not wrapped by the transport)', () => {
  it('a raw socket error is explained by its system code', () => {
    assert.equal(diagnose(sysError('connect ECONNREFUSED 127.0.0.1:587', { code: 'ECONNREFUSED' }), CTX).id, 'connect-refused');
    assert.equal(diagnose(sysError('getaddrinfo ENOTFOUND x', { code: 'ENOTFOUND' }), CTX).id, 'connect-dns');
    assert.equal(diagnose(sysError('Greeting never received', { code: 'ETIMEDOUT' }), CTX).id, 'greeting-timeout');
    assert.equal(diagnose(sysError('Connection timeout', { code: 'ETIMEDOUT' }), CTX).id, 'connect-timeout');
    assert.equal(diagnose(sysError('self-signed certificate', { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), CTX).id, 'tls-untrusted-certificate');
    assert.equal(diagnose(sysError('socket hang up', { code: 'ECONNRESET' }), CTX).id, 'connection-lost');
  });

  it('a nodemailer-shaped error is explained by its SMTP response', () => {
    const e = Object.assign(new Error('Invalid login: 535 5.7.3 Authentication unsuccessful'), {
      code: 'EAUTH', response: '535 5.7.3 Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com]', responseCode: 535, command: 'AUTH XOAUTH2',
    });
    assert.equal(diagnose(e, CTX).id, 'smtp-535-5.7.3');
  });

  it('anything else gets the generic diagnosis', () => {
    for (const thing of [new Error('boom'), 'a string', 42, null, undefined, {}, [], Symbol('s'), () => 1]) {
      const d = diagnose(thing, CTX);
      assert.equal(d.id, 'unknown-error');
      assert.ok(d.summary && d.causes.length && d.fixes.length);
    }
  });
});
