/**
 * What a diagnosis may contain: filled IDs or clearly marked placeholders, never a secret,
 * a token or an XOAUTH2 string, whatever the error carries; and diagnose() never throws.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { MailgateError, parseSmtpReply, ERROR_CODES, type ErrorCode } from '../../src/core/errors.js';
import {
  diagnose,
  diagnoseAadsts,
  diagnoseSmtpReply,
  diagnosisForRule,
  getDiagnosisRule,
  listDiagnosisRuleIds,
  PLACEHOLDERS,
  type DiagnosisContext,
} from '../../src/core/diagnosis/index.js';

const SECRET = 'Abc8Q~n0tARealSecretValueButShapedLike0ne12';
const TOKEN = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL291dGxvb2sub2ZmaWNlMzY1LmNvbSIsIm9pZCI6IngifQ.c2lnbmF0dXJlLW5vdC1yZWFs';
const XOAUTH2 = Buffer.from(`user=app@contoso.com\x01auth=Bearer ${TOKEN}\x01\x01`).toString('base64');
const PASSWORD = 'Correct-Horse-Battery-Staple-42';
const SENSITIVE = [SECRET, TOKEN, XOAUTH2, PASSWORD, TOKEN.slice(0, 30), XOAUTH2.slice(0, 30)];

const FULL: DiagnosisContext = {
  clientId: '6731de76-14a6-49ae-97bc-6eba6914391e',
  tenantId: '8f3c2a1b-4d5e-4f60-9a7b-1c2d3e4f5a6b',
  authorizedFrom: 'app@contoso.com',
  from: 'ceo@contoso.com',
  smtpHost: 'smtp.office365.com',
  smtpPort: 587,
  authorityHost: 'https://login.microsoftonline.com',
  scope: 'https://outlook.office365.com/.default',
  servicePrincipalObjectId: '6d9e1f2a-3b4c-4d5e-8f90-a1b2c3d4e5f6',
};

const smtpReplies = (JSON.parse(readFileSync(new URL('../../../test/fixtures/replies/smtp-replies.json', import.meta.url), 'utf8')) as Array<{ reply: string; command?: string }>);
const aadstsCodes = (JSON.parse(readFileSync(new URL('../../../test/fixtures/replies/aadsts-responses.json', import.meta.url), 'utf8')) as Array<{ body: { error_codes: number[] } | null }>)
  .flatMap((f) => f.body?.error_codes ?? []);

/** An error stuffed with secrets everywhere a careless caller might put them. */
function leakyErrors(): MailgateError[] {
  const context = { clientSecret: SECRET, accessToken: TOKEN, xoauth2: XOAUTH2, password: PASSWORD, clientId: SECRET, authorizedFrom: `${PASSWORD}@x`, host: TOKEN };
  const cause = Object.assign(new Error(`AUTH XOAUTH2 ${XOAUTH2} failed with secret ${SECRET}`), { code: 'ECONNRESET', response: `334 ${XOAUTH2}` });
  const message = `token ${TOKEN} secret ${SECRET} password ${PASSWORD} xoauth2 ${XOAUTH2}`;
  const problems = [{ key: 'clientSecret', env: 'MAILGATE_CLIENT_SECRET', label: 'Client Secret', message: `looks odd: ${SECRET} ${TOKEN}` }];
  const out: MailgateError[] = [];
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    out.push(new MailgateError({ code, phase: 'send', message, context, cause, problems }));
  }
  for (const f of smtpReplies) {
    out.push(new MailgateError({ code: 'AUTH_FAILED', phase: 'auth', message, context, cause, smtp: parseSmtpReply(f.reply, f.command) }));
  }
  for (const code of aadstsCodes) {
    out.push(new MailgateError({ code: 'TOKEN_REJECTED', phase: 'token', message, context, cause, token: { status: 400, aadsts: [code], description: `AADSTS${code}: ${message}` } }));
  }
  return out;
}

describe('secrets never leak', () => {
  it('no secret, token, XOAUTH2 string or password from the error appears in any diagnosis', () => {
    for (const e of leakyErrors()) {
      for (const ctx of [undefined, FULL]) {
        const text = JSON.stringify(diagnose(e, ctx));
        for (const s of SENSITIVE) assert.ok(!text.includes(s), `${e.code}/${e.smtp?.raw ?? e.token?.aadsts}: leaked ${s.slice(0, 12)}…`);
      }
    }
  });

  it('a secret in the wrong context field becomes a placeholder', () => {
    const ctx: DiagnosisContext = {
      clientId: SECRET, tenantId: TOKEN, authorizedFrom: `a;Remove-Mailbox x@contoso.com`, from: '$(whoami)@contoso.com',
      smtpHost: 'smtp.office365.com; rm -rf /', smtpPort: 70000, authorityHost: `https://user:${PASSWORD}@login.microsoftonline.com`,
      servicePrincipalObjectId: 'not-a-guid', scope: `https://outlook.office365.com/.default ${SECRET}`,
    };
    const raw = '535 5.7.3 Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com]';
    for (const d of [diagnoseSmtpReply(raw, ctx, 'AUTH XOAUTH2'), diagnoseAadsts(700016, ctx), diagnose(new MailgateError({ code: 'CONNECT_TIMEOUT', phase: 'connect', message: 'x' }), ctx)]) {
      const text = JSON.stringify(d);
      for (const s of [...SENSITIVE, 'Remove-Mailbox', 'whoami', 'rm -rf', '70000', 'not-a-guid']) assert.ok(!text.includes(s), `leaked ${s}`);
    }
    const d = diagnoseSmtpReply(raw, ctx, 'AUTH XOAUTH2');
    assert.ok(d.commands!.includes(`New-ServicePrincipal -AppId ${PLACEHOLDERS.clientId} -ObjectId ${PLACEHOLDERS.oid} -DisplayName "Mailgate"`));
  });
});

describe('placeholders', () => {
  it('missing context yields clearly marked placeholders in the commands', () => {
    const d = diagnoseSmtpReply('535 5.7.3 Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com]');
    assert.ok(d.commands!.includes('Connect-ExchangeOnline -Organization <Directory (tenant) ID>'));
    assert.ok(d.commands!.includes(`New-ServicePrincipal -AppId <Application (client) ID> -ObjectId <Enterprise Application Object ID (the token's oid)> -DisplayName "Mailgate"`));
    assert.ok(d.commands!.includes(`Add-MailboxPermission -Identity <Authorized from Address> -User <Enterprise Application Object ID (the token's oid)> -AccessRights FullAccess`));
    const t = diagnose(new MailgateError({ code: 'CONNECT_TIMEOUT', phase: 'connect', message: 'x' }));
    assert.ok(t.commands!.includes(`Test-NetConnection -ComputerName ${PLACEHOLDERS.smtpHost} -Port ${PLACEHOLDERS.smtpPort}`));
  });

  it('every placeholder is unmistakably not a real value', () => {
    for (const p of Object.values(PLACEHOLDERS)) assert.match(p, /^<.+>$/);
  });

  it('every rule renders without a leftover {placeholder}, with full and with empty context', () => {
    for (const id of listDiagnosisRuleIds()) {
      for (const ctx of [FULL, {}]) {
        const d = diagnosisForRule(id, ctx)!;
        assert.equal(d.id, id);
        assert.doesNotMatch(JSON.stringify(d), /\{(clientId|tenantId|authorizedFrom|from|oid|smtpHost|smtpPort|authorityHost|authorityHostName|scope)\}/, id);
      }
    }
  });
});

describe('the tables', () => {
  it('every rule has a stable id, a summary, causes and fixes, and https doc links', () => {
    const ids = listDiagnosisRuleIds();
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(ids.length >= 80, `only ${ids.length} rules`);
    for (const id of ids) {
      const r = getDiagnosisRule(id)!;
      assert.match(id, /^[a-z0-9][a-z0-9.-]*$/);
      assert.ok(r.summary.length > 10 && r.causes.length > 0 && r.fixes.length > 0, id);
      for (const url of r.docs ?? []) assert.match(url, /^https:\/\/[^\s]+$/, id);
    }
  });

  it('unknown ids give undefined', () => {
    assert.equal(diagnosisForRule('no-such-rule'), undefined);
  });
});

describe('never throws', () => {
  it('survives hostile errors and contexts', () => {
    const hostile = new Proxy({}, { get() { throw new Error('trap'); }, getPrototypeOf() { throw new Error('trap'); } });
    const cyclic: { cause?: unknown; message: string } = { message: 'loop' };
    cyclic.cause = cyclic;
    const badCtx = new Proxy({}, { get() { throw new Error('trap'); } }) as DiagnosisContext;
    for (const e of [hostile, cyclic, Object.create(null), new MailgateError({ code: 'AUTH_FAILED', phase: 'auth', message: 'x' })]) {
      for (const ctx of [undefined, badCtx, 'nonsense' as unknown as DiagnosisContext]) {
        const d = diagnose(e, ctx);
        assert.ok(d.id && d.summary && d.causes.length && d.fixes.length);
      }
    }
    assert.equal(diagnoseSmtpReply(undefined as unknown as string).id, 'smtp-unrecognized-reply');
    assert.equal(diagnoseSmtpReply('garbage').id, 'smtp-unrecognized-reply');
    assert.equal(diagnoseSmtpReply('250 2.0.0 OK').id, 'smtp-unrecognized-reply');
    assert.equal(diagnoseAadsts(Number.NaN).id, 'aadsts-unknown');
  });

  it('a token reply with malformed fields is still diagnosed', () => {
    const e = new MailgateError({ code: 'TOKEN_REJECTED', phase: 'token', message: 'x', token: { aadsts: 'nope' as unknown as number[], description: 42 as unknown as string } });
    assert.equal(diagnose(e, FULL).id, 'token-rejected');
  });
});
