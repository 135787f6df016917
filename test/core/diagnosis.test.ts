/**
 * The diagnosis tables, pinned row by row by fixtures of real replies
 * (test/fixtures/replies/*.json, verbatim strings from docs/m365.md), and the
 * three cases every administrator meets: authentication fails, permission denied, connection
 * timeout.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { MailgateError, parseSmtpReply, type ErrorCode, type Phase, type TokenEndpointReply } from '../../src/core/errors.js';
import {
  diagnose,
  diagnoseAadsts,
  diagnoseSmtpReply,
  listDiagnosisRuleIds,
  type Diagnosis,
  type DiagnosisContext,
} from '../../src/core/diagnosis/index.js';
import { FIXTURE_CONTEXT } from '../helpers/diagnosis-context.js';

interface SmtpFixture {
  reply: string;
  command?: string;
  ctx?: Partial<DiagnosisContext>;
  expectRule: string;
  expectRetryable: boolean;
  expectMinDelayMs?: number;
  expectValues?: string[];
  source: string;
}
interface AadstsFixture {
  status: number;
  body: { error: string; error_description: string; error_codes: number[]; trace_id: string; correlation_id: string } | null;
  code?: ErrorCode;
  retryAfterSeconds?: number;
  expectRule: string;
  expectRetryable: boolean;
  expectMinDelayMs?: number;
  source: string;
}

const fixture = <T>(name: string): T[] =>
  JSON.parse(readFileSync(new URL(`../../../test/fixtures/replies/${name}`, import.meta.url), 'utf8')) as T[];
const SMTP = fixture<SmtpFixture>('smtp-replies.json');
const AADSTS = fixture<AadstsFixture>('aadsts-responses.json');

const CTX: DiagnosisContext = FIXTURE_CONTEXT;
/** The App registrations object id: must never appear in a command. */
const APP_OBJECT_ID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

/** Builds the error the way the transport does. */
function smtpError(f: SmtpFixture): MailgateError {
  const smtp = parseSmtpReply(f.reply, f.command);
  assert.ok(smtp, `unparseable fixture ${f.reply}`);
  const auth = f.command?.startsWith('AUTH') === true;
  const code: ErrorCode = auth && smtp.code >= 500 ? 'AUTH_FAILED' : smtp.code < 500 ? 'SMTP_TRANSIENT' : 'SMTP_REJECTED';
  const phase: Phase = auth ? 'auth' : 'send';
  return new MailgateError({ code, phase, message: `SMTP ${f.command ?? ''} failed: ${f.reply}`, smtp, context: { applicationObjectId: APP_OBJECT_ID } });
}

function tokenReply(f: AadstsFixture): TokenEndpointReply {
  return {
    status: f.status,
    error: f.body?.error,
    aadsts: f.body?.error_codes,
    description: f.body?.error_description,
    traceId: f.body?.trace_id,
    correlationId: f.body?.correlation_id,
    retryAfterSeconds: f.retryAfterSeconds,
  };
}

function tokenError(f: AadstsFixture): MailgateError {
  const token = tokenReply(f);
  return new MailgateError({ code: f.code ?? 'TOKEN_REJECTED', phase: 'token', message: token.description ?? `HTTP ${f.status}`, token });
}

const UNFILLED = /\{(clientId|tenantId|authorizedFrom|from|oid|smtpHost|smtpPort|authorityHost|authorityHostName|scope)\}/;

function assertWellFormed(d: Diagnosis, label: string): void {
  assert.ok(d.summary.length > 10, `${label}: summary`);
  assert.ok(d.causes.length > 0 && d.causes.every((c) => c.length > 5), `${label}: causes`);
  assert.ok(d.fixes.length > 0 && d.fixes.every((c) => c.length > 5), `${label}: fixes`);
  const all = JSON.stringify(d);
  assert.doesNotMatch(all, UNFILLED, `${label}: unfilled placeholder`);
  for (const url of d.docs ?? []) assert.match(url, /^https:\/\//, `${label}: doc link`);
}

describe('SMTP reply fixtures (one per reply, real strings)', () => {
  for (const f of SMTP) {
    it(`${f.expectRule} ← ${f.reply.slice(0, 70)}`, () => {
      const ctx = { ...CTX, ...f.ctx };
      const d = diagnose(smtpError(f), ctx);
      assert.equal(d.id, f.expectRule);
      assertWellFormed(d, f.expectRule);
      assert.ok(!JSON.stringify(d).includes(APP_OBJECT_ID), 'the App registrations object id never appears');
      for (const v of f.expectValues ?? []) assert.ok(d.commands?.includes(v), `missing command ${v} in ${JSON.stringify(d.commands)}`);
      // The reply alone gives the same rule.
      assert.equal(diagnoseSmtpReply(f.reply, ctx, f.command).id, f.expectRule);
    });
  }

  it('ignores the bracketed server names, timestamps and ids', () => {
    for (const f of SMTP) {
      const bare = f.reply.replace(/\s*\[[^\]]*\]/g, '');
      assert.equal(diagnoseSmtpReply(bare, { ...CTX, ...f.ctx }, f.command).id, f.expectRule, bare);
      const other = f.reply.replace(/\[[^\]]*\]/g, '[XX1PR00CA9999.namprd99.prod.outlook.com 2030-12-31T23:59:59.999Z 08DEFFFFFFFFFFFF]');
      assert.equal(diagnoseSmtpReply(other, { ...CTX, ...f.ctx }, f.command).id, f.expectRule, other);
    }
  });

  it('covers every reply the issue lists', () => {
    const ids = new Set(SMTP.map((f) => f.expectRule));
    for (const id of [
      'smtp-535-5.7.3', 'smtp-535-5.7.139-tenant', 'smtp-535-5.7.139-mailbox', 'smtp-535-5.7.139-basic-auth-disabled',
      'smtp-535-5.7.139-security-defaults', 'smtp-535-5.7.139-criteria', 'smtp-550-5.7.30', 'smtp-530-5.7.57', 'smtp-550-5.7.60',
      'smtp-554-5.2.252-send-as-denied', 'smtp-554-5.2.0-send-as-denied', 'smtp-535-5.7.3-shared-mailbox', 'smtp-550-5.2.252', 'smtp-550-5.2.255',
      'smtp-432-4.3.2-concurrent-connections', 'smtp-554-5.2.0-submission-quota', 'smtp-554-5.2.0-outbound-spam', 'smtp-550-5.1.8',
      'smtp-550-5.7.705', 'smtp-550-5.7.708', 'smtp-550-5.7.750', 'smtp-554-5.2.2-mailbox-full', 'smtp-421-4.7.66',
      'smtp-4xx-4.7.0-prx4', 'smtp-421-4.3.2-service-not-active', 'smtp-552-5.3.4', 'smtp-max-submission-exceeded',
      'smtp-501-5.5.124', 'smtp-4xx', 'smtp-5xx',
    ]) assert.ok(ids.has(id), `no fixture for ${id}`);
  });

  it('tells the recipient-side thread limit apart from the 3-connection limit', () => {
    assert.equal(diagnoseSmtpReply('432 4.3.2 STOREDRV.Deliver; recipient thread limit exceeded', CTX).id, 'smtp-4xx');
  });
});

describe('AADSTS fixtures (Entra error bodies)', () => {
  for (const f of AADSTS) {
    it(`${f.expectRule} ← HTTP ${f.status} ${f.body?.error_codes.join(',') ?? ''}`, () => {
      const d = diagnose(tokenError(f), CTX);
      assert.equal(d.id, f.expectRule);
      assertWellFormed(d, f.expectRule);
    });
  }

  it('reads the code from error_description when error_codes is missing', () => {
    for (const f of AADSTS.filter((x) => x.body && x.expectRule.startsWith('aadsts-') && x.expectRule !== 'aadsts-unknown')) {
      const token = { ...tokenReply(f), aadsts: undefined };
      const d = diagnose(new MailgateError({ code: 'TOKEN_REJECTED', phase: 'token', message: 'x', token }), CTX);
      assert.equal(d.id, f.expectRule);
    }
  });

  it('diagnoseAadsts(code) gives the same rule as the full error', () => {
    for (const f of AADSTS.filter((x) => x.body && x.expectRule.startsWith('aadsts-') && x.expectRule !== 'aadsts-unknown')) {
      assert.equal(diagnoseAadsts(f.body!.error_codes[0]!, CTX).id, f.expectRule);
    }
    assert.equal(diagnoseAadsts(123456789, CTX).id, 'aadsts-unknown');
    assert.match(diagnoseAadsts(123456789).fixes.join(' '), /login\.microsoftonline\.com\/error\?code=123456789/);
  });

  it('covers every code the issue lists', () => {
    const ids = new Set(listDiagnosisRuleIds());
    for (const code of [7000215, 7000222, 700016, 90002, 900023, 700027, 700024, 500011, 1002012, 70011, 7000112, 70001, 53003, 7000218, 90038, 50196, 9001023, 700022]) {
      assert.ok(ids.has(`aadsts-${code}`), `no rule for AADSTS${code}`);
      assert.ok(AADSTS.some((f) => f.expectRule === `aadsts-${code}`), `no fixture for AADSTS${code}`);
    }
  });

  it('7000215 says secret value, not secret ID, and gives the app id', () => {
    const d = diagnoseAadsts(7000215, CTX);
    assert.match(d.causes[0]!, /Secret ID/);
    assert.match(d.fixes.join(' '), /Value/);
    assert.ok(d.commands?.some((c) => c.includes(`--id ${CTX.clientId}`)));
  });

  it('takes the client id from the description when the settings are not at hand', () => {
    const f = AADSTS.find((x) => x.expectRule === 'aadsts-700016')!;
    const d = diagnose(tokenError(f));
    assert.match(d.summary, /6731de76-14a6-49ae-97bc-6eba6914391e/);
  });
});

describe('authentication fails (535 5.7.3)', () => {
  const raw = '535 5.7.3 Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com]';
  const err = () => new MailgateError({ code: 'AUTH_FAILED', phase: 'auth', message: 'AUTH XOAUTH2 refused', smtp: parseSmtpReply(raw, 'AUTH XOAUTH2') });

  it('names Enterprise applications vs App registrations, New-ServicePrincipal, FullAccess and admin consent', () => {
    const d = diagnose(err(), CTX);
    const text = [d.summary, ...d.causes, ...d.fixes].join('\n');
    assert.match(d.causes[0]!, /App registrations instead of the Object ID from Enterprise applications/);
    assert.match(text, /New-ServicePrincipal/);
    assert.match(text, /FullAccess/);
    assert.match(text, /admin consent/i);
    assert.match(text, /SMTP\.SendAsApp/);
  });

  it('fills the exact commands with the administrator\'s IDs and the token oid', () => {
    const d = diagnose(err(), CTX);
    const { clientId, tenantId, authorizedFrom, servicePrincipalObjectId: oid } = CTX;
    for (const c of [
      `Connect-ExchangeOnline -Organization ${tenantId}`,
      `New-ServicePrincipal -AppId ${clientId} -ObjectId ${oid} -DisplayName "Mailgate"`,
      `Add-MailboxPermission -Identity ${authorizedFrom} -User ${oid} -AccessRights FullAccess`,
      `Get-ServicePrincipal | Where-Object AppId -eq ${clientId} | Format-List`,
    ]) assert.ok(d.commands?.includes(c), `missing ${c}`);
    assert.ok(!d.commands?.some((c) => c.includes('Get-MgServicePrincipal')), 'no oid lookup when the oid is known');
  });

  it('uses the oid, never an application object id found in the error context', () => {
    const e = new MailgateError({
      code: 'AUTH_FAILED', phase: 'auth', message: 'x', smtp: parseSmtpReply(raw, 'AUTH XOAUTH2'),
      context: { objectId: APP_OBJECT_ID, applicationObjectId: APP_OBJECT_ID, appObjectId: APP_OBJECT_ID },
    });
    const d = diagnose(e, { ...CTX, servicePrincipalObjectId: undefined });
    const sp = d.commands!.find((c) => c.startsWith('New-ServicePrincipal'))!;
    assert.ok(!JSON.stringify(d).includes(APP_OBJECT_ID));
    assert.match(sp, /-ObjectId <Enterprise Application Object ID \(the token's oid\)>/);
    // and tells how to find it
    assert.ok(d.commands!.includes(`(Get-MgServicePrincipal -Filter "appId eq '${CTX.clientId}'").Id`));
  });

  it('takes the oid from the error context when the transport put it there', () => {
    const e = new MailgateError({ code: 'AUTH_FAILED', phase: 'auth', message: 'x', smtp: parseSmtpReply(raw, 'AUTH XOAUTH2'), context: { oid: CTX.servicePrincipalObjectId } });
    const d = diagnose(e, { clientId: CTX.clientId });
    assert.ok(d.commands!.includes(`New-ServicePrincipal -AppId ${CTX.clientId} -ObjectId ${CTX.servicePrincipalObjectId} -DisplayName "Mailgate"`));
  });

  it('narrows down with the token roles: no role → consent; role present → Exchange side', () => {
    const noRole = diagnose(err(), { ...CTX, tokenRoles: [] });
    assert.equal(noRole.id, 'smtp-535-5.7.3-no-role');
    assert.match(noRole.fixes[0]!, /Grant admin consent/);
    const exchange = diagnose(err(), { ...CTX, tokenRoles: ['SMTP.SendAsApp'] });
    assert.equal(exchange.id, 'smtp-535-5.7.3-exchange-side');
    assert.ok(!exchange.causes.some((c) => /admin consent was not granted/.test(c)));
    assert.ok(exchange.commands!.includes(`New-ServicePrincipal -AppId ${CTX.clientId} -ObjectId ${CTX.servicePrincipalObjectId} -DisplayName "Mailgate"`));
  });
});

describe('permission denied (Send As)', () => {
  it('550 5.7.60: send as the authorized mailbox, or grant Send As with the real addresses', () => {
    const f = SMTP.find((x) => x.expectRule === 'smtp-550-5.7.60')!;
    const d = diagnose(smtpError(f), { ...CTX, from: 'ceo@contoso.com' });
    assert.match(d.summary, /send as ceo@contoso\.com/);
    assert.match(d.fixes[0]!, /send as app@contoso\.com/);
    assert.ok(d.commands!.includes('Add-RecipientPermission -Identity ceo@contoso.com -Trustee app@contoso.com -AccessRights SendAs'));
    assert.match(d.fixes.join(' '), /never retries 5xx/);
  });

  it('takes the addresses from a SendAsDenied reply when the caller does not know From', () => {
    const f = SMTP.find((x) => x.expectRule === 'smtp-554-5.2.252-send-as-denied')!;
    const d = diagnoseSmtpReply(f.reply, {});
    assert.ok(d.commands!.includes('Add-RecipientPermission -Identity ceo@contoso.com -Trustee app@contoso.com -AccessRights SendAs'));
  });

  it('SMTP AUTH disabled for the tenant: mailbox and organisation commands', () => {
    const d = diagnoseSmtpReply(SMTP.find((x) => x.expectRule === 'smtp-535-5.7.139-tenant')!.reply, CTX);
    assert.ok(d.commands!.includes('Set-CASMailbox -Identity app@contoso.com -SmtpClientAuthenticationDisabled $false'));
    assert.ok(d.commands!.some((c) => c.startsWith('Set-TransportConfig -SmtpClientAuthenticationDisabled $false')));
  });
});

describe('connection timeout', () => {
  it('says outbound port 587 to the SMTP host is blocked and gives the commands to prove it', () => {
    const d = diagnose(new MailgateError({ code: 'CONNECT_TIMEOUT', phase: 'connect', message: 'Connection timeout' }), CTX);
    assert.equal(d.id, 'connect-timeout');
    assert.match(d.summary, /smtp\.office365\.com on port 587/);
    assert.match(d.summary, /firewall/);
    assert.match(d.causes[0]!, /blocks outbound TCP port 587 to smtp\.office365\.com/);
    assert.ok(d.commands!.includes('Test-NetConnection -ComputerName smtp.office365.com -Port 587'));
    assert.ok(d.commands!.some((c) => c.startsWith('nc -vz') && c.endsWith('smtp.office365.com 587')));
  });

  it('uses host and port from the error context when no settings are given', () => {
    const d = diagnose(new MailgateError({ code: 'CONNECT_TIMEOUT', phase: 'connect', message: 't', context: { host: 'smtp.office365.us', port: 2587 } }));
    assert.ok(d.commands!.includes('Test-NetConnection -ComputerName smtp.office365.us -Port 2587'));
  });

  it('prefers the caller\'s values over the error context', () => {
    const d = diagnose(new MailgateError({ code: 'CONNECT_TIMEOUT', phase: 'connect', message: 't', context: { host: 'other.example.com', port: 25 } }), CTX);
    assert.ok(d.commands!.includes('Test-NetConnection -ComputerName smtp.office365.com -Port 587'));
  });
});
