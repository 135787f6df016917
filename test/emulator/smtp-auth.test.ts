// Exchange Online's XOAUTH2 and password rules, one test per rule: each missed administrator
// step gives Exchange's reply, and the admin log names the real reason.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { buildTenantState, mergeStates, startEmulator, type BuiltTenant, type Emulator, type SmtpSessionLogEntry } from '../../src/emulator/index.js';
import { fetchToken, RawSmtpClient, xoauth2 } from '../helpers/emulator-client.js';

const GENERIC_535 = /^535 5\.7\.3 Authentication unsuccessful \[[A-Z]{2}\dPR\d\dCA\d{4}\.namprd\d\d\.prod\.outlook\.com \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [0-9A-F]{16}\]$/;
const TENANT_DISABLED = '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.';
const MAILBOX_DISABLED = '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information.';
const BASIC_DISABLED = '535 5.7.139 Authentication unsuccessful, basic authentication is disabled.';

describe('SMTP authentication rules', () => {
  let emulator: Emulator;
  const good = buildTenantState({
    domain: 'contoso.onmicrosoft.com',
    extraMailboxes: [
      { address: 'nofullaccess@contoso.onmicrosoft.com' },
      { address: 'blocked@contoso.onmicrosoft.com', smtpAuthDisabled: true, fullAccess: [] },
      { address: 'legacy@contoso.onmicrosoft.com', basicAuthPassword: 'Passw0rd!' },
    ],
  });
  const noConsent = buildTenantState({ domain: 'noconsent.onmicrosoft.com', consentedRoles: [] });
  const graphOnly = buildTenantState({ domain: 'graphonly.onmicrosoft.com', consentedRoles: ['Mail.Send'] });
  const spMissing = buildTenantState({ domain: 'nosp.onmicrosoft.com', exchangeServicePrincipal: 'missing' });
  const spWrongId = buildTenantState({ domain: 'wrongsp.onmicrosoft.com', exchangeServicePrincipal: 'applicationObjectId' });
  const tenantOff = buildTenantState({ domain: 'tenantoff.onmicrosoft.com', tenantSmtpAuthDisabled: true });
  const tenantOffMailboxOn = buildTenantState({ domain: 'override.onmicrosoft.com', tenantSmtpAuthDisabled: true, mailboxSmtpAuthDisabled: false });
  const tokens = new Map<BuiltTenant, string>();

  before(async () => {
    emulator = await startEmulator(mergeStates(good, noConsent, graphOnly, spMissing, spWrongId, tenantOff, tenantOffMailboxOn), { limits: false });
    for (const t of [good, noConsent, graphOnly, spMissing, spWrongId, tenantOff, tenantOffMailboxOn]) {
      tokens.set(t, await fetchToken(emulator, t.tenantId, t.clientId, t.clientSecret!));
    }
  });
  after(() => emulator.stop());

  /** One fresh TLS session: AUTH XOAUTH2 as `user` with `token`; returns the reply and the session's log entry. */
  async function authenticate(user: string, token: string): Promise<{ reply: string; session: SmtpSessionLogEntry }> {
    const c = await RawSmtpClient.connectSecure(emulator.smtp.port, emulator.caPem);
    try {
      const reply = await c.send(`AUTH XOAUTH2 ${xoauth2(user, token)}`);
      const session = emulator.log().filter((e): e is SmtpSessionLogEntry => e.kind === 'smtp').at(-1)!;
      return { reply, session };
    } finally {
      c.close();
    }
  }

  const reasonOf = (session: SmtpSessionLogEntry) => session.auth.at(-1)?.reason ?? '';

  test('everything set up: 235 2.7.0 Authentication successful, and the log records the decoded user and TLS', async () => {
    const { reply, session } = await authenticate(good.authorizedFrom, tokens.get(good)!);
    assert.equal(reply, '235 2.7.0 Authentication successful');
    const auth = session.auth.at(-1)!;
    assert.equal(auth.user, good.authorizedFrom);
    assert.equal(auth.tlsActive, true);
    assert.equal(auth.token?.oid, good.servicePrincipalObjectId);
    assert.equal(JSON.stringify(emulator.log()).includes(tokens.get(good)!), false, 'the token is never logged');
  });

  test('the user= address is matched case-insensitively', async () => {
    assert.equal((await authenticate(good.authorizedFrom.toUpperCase(), tokens.get(good)!)).reply, '235 2.7.0 Authentication successful');
  });

  test('an expired token: 535 5.7.3', async () => {
    const shortLived = await startEmulator(good.state, { tokenLifetimeSeconds: 1 });
    try {
      const token = await fetchToken(shortLived, good.tenantId, good.clientId, good.clientSecret!);
      await new Promise((r) => setTimeout(r, 1200));
      const c = await RawSmtpClient.connectSecure(shortLived.smtp.port, shortLived.caPem);
      assert.match(await c.send(`AUTH XOAUTH2 ${xoauth2(good.authorizedFrom, token)}`), GENERIC_535);
      c.close();
      const session = shortLived.log().find((e): e is SmtpSessionLogEntry => e.kind === 'smtp')!;
      assert.match(reasonOf(session), /expired/);
    } finally {
      await shortLived.stop();
    }
  });

  test('a token with a tampered payload (bad signature): 535 5.7.3', async () => {
    const [h, p, s] = tokens.get(good)!.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    claims.roles = ['SMTP.SendAsApp', 'full_access_as_app'];
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    const { reply, session } = await authenticate(good.authorizedFrom, forged);
    assert.match(reply, GENERIC_535);
    assert.match(reasonOf(session), /signature/);
  });

  test('a token signed by another emulator (another key): 535 5.7.3', async () => {
    const other = await startEmulator(good.state);
    try {
      const foreign = await fetchToken(other, good.tenantId, good.clientId, good.clientSecret!);
      const { reply, session } = await authenticate(good.authorizedFrom, foreign);
      assert.match(reply, GENERIC_535);
      assert.match(reasonOf(session), /not signed by this emulator's key/);
    } finally {
      await other.stop();
    }
  });

  test('a bearer value that is not a JWT: 535 5.7.3', async () => {
    const { reply, session } = await authenticate(good.authorizedFrom, 'EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA');
    assert.match(reply, GENERIC_535);
    assert.match(reasonOf(session), /not a JWT/);
  });

  test('a Microsoft Graph token (aud graph.microsoft.com): 535 5.7.3', async () => {
    const graphToken = await fetchToken(emulator, good.tenantId, good.clientId, good.clientSecret!, 'https://graph.microsoft.com/.default');
    const { reply, session } = await authenticate(good.authorizedFrom, graphToken);
    assert.match(reply, GENERIC_535);
    assert.match(reasonOf(session), /audience is https:\/\/graph\.microsoft\.com/);
  });

  test('a token for https://ps.outlook.com is accepted (another Exchange audience)', async () => {
    const psToken = await fetchToken(emulator, good.tenantId, good.clientId, good.clientSecret!, 'https://ps.outlook.com/.default');
    assert.equal((await authenticate(good.authorizedFrom, psToken)).reply, '235 2.7.0 Authentication successful');
  });

  test('no admin consent (no roles claim): 535 5.7.3', async () => {
    const { reply, session } = await authenticate(noConsent.authorizedFrom, tokens.get(noConsent)!);
    assert.match(reply, GENERIC_535);
    assert.match(reasonOf(session), /no roles claim/);
  });

  test('only Graph Mail.Send consented (no SMTP.SendAsApp): 535 5.7.3', async () => {
    const { reply, session } = await authenticate(graphOnly.authorizedFrom, tokens.get(graphOnly)!);
    assert.match(reply, GENERIC_535);
    assert.match(reasonOf(session), /no roles claim|SMTP\.SendAsApp/);
  });

  test('New-ServicePrincipal never run: 535 5.7.3', async () => {
    const { reply, session } = await authenticate(spMissing.authorizedFrom, tokens.get(spMissing)!);
    assert.match(reply, GENERIC_535);
    assert.match(reasonOf(session), /no service principal in Exchange/);
  });

  test('New-ServicePrincipal run with the App Registration object id: 535 5.7.3', async () => {
    const { reply, session } = await authenticate(spWrongId.authorizedFrom, tokens.get(spWrongId)!);
    assert.match(reply, GENERIC_535);
    assert.match(reasonOf(session), /App Registration object id/);
  });

  test('user= mailbox that does not exist: 535 5.7.3', async () => {
    const { reply, session } = await authenticate('nobody@contoso.onmicrosoft.com', tokens.get(good)!);
    assert.match(reply, GENERIC_535);
    assert.match(reasonOf(session), /does not exist/);
  });

  test('user= mailbox of another tenant than the token\'s: 535 5.7.3', async () => {
    const { reply } = await authenticate(noConsent.authorizedFrom, tokens.get(good)!);
    assert.match(reply, GENERIC_535);
  });

  test('mailbox without FullAccess for the service principal: 535 5.7.3', async () => {
    const { reply, session } = await authenticate('nofullaccess@contoso.onmicrosoft.com', tokens.get(good)!);
    assert.match(reply, GENERIC_535);
    assert.match(reasonOf(session), /FullAccess/);
  });

  test('SMTP AUTH disabled for the tenant: 535 5.7.139 ... for the Tenant', async () => {
    assert.equal((await authenticate(tenantOff.authorizedFrom, tokens.get(tenantOff)!)).reply, TENANT_DISABLED);
  });

  test('SMTP AUTH disabled for the mailbox: 535 5.7.139 ... for the Mailbox', async () => {
    assert.equal((await authenticate('blocked@contoso.onmicrosoft.com', tokens.get(good)!)).reply, MAILBOX_DISABLED);
  });

  test('the mailbox setting (false) wins over the tenant setting (true)', async () => {
    assert.equal((await authenticate(tenantOffMailboxOn.authorizedFrom, tokens.get(tenantOffMailboxOn)!)).reply, '235 2.7.0 Authentication successful');
  });

  test('setState applies to the next AUTH (consent revoked at run time)', async () => {
    const before = emulator.getState();
    try {
      const changed = structuredClone(before);
      changed.tenants[0]!.mailboxes[0]!.fullAccess = [];
      emulator.setState(changed);
      assert.match((await authenticate(good.authorizedFrom, tokens.get(good)!)).reply, GENERIC_535);
    } finally {
      emulator.setState(before);
    }
    assert.equal((await authenticate(good.authorizedFrom, tokens.get(good)!)).reply, '235 2.7.0 Authentication successful');
  });

  describe('passwords (AUTH LOGIN / PLAIN)', () => {
    const plain = (user: string, password: string) => Buffer.from(`\0${user}\0${password}`).toString('base64');

    test('AUTH PLAIN for a mailbox without a basic-auth password: 535 5.7.139 basic authentication is disabled', async () => {
      const c = await RawSmtpClient.connectSecure(emulator.smtp.port, emulator.caPem);
      assert.equal(await c.send(`AUTH PLAIN ${plain(good.authorizedFrom, 'whatever')}`), BASIC_DISABLED);
      c.close();
    });

    test('AUTH LOGIN (two steps) for such a mailbox: same reply', async () => {
      const c = await RawSmtpClient.connectSecure(emulator.smtp.port, emulator.caPem);
      assert.equal(await c.send('AUTH LOGIN'), '334 VXNlcm5hbWU6');
      assert.equal(await c.send(Buffer.from(good.authorizedFrom).toString('base64')), '334 UGFzc3dvcmQ6');
      assert.equal(await c.send(Buffer.from('whatever').toString('base64')), BASIC_DISABLED);
      c.close();
      assert.equal(JSON.stringify(emulator.log()).includes('whatever'), false, 'passwords are never logged');
    });

    test('a mailbox with basicAuthPassword: the right password succeeds, a wrong one gets 5.7.3', async () => {
      const c = await RawSmtpClient.connectSecure(emulator.smtp.port, emulator.caPem);
      assert.match(await c.send(`AUTH PLAIN ${plain('legacy@contoso.onmicrosoft.com', 'nope')}`), GENERIC_535);
      assert.equal(await c.send(`AUTH PLAIN ${plain('legacy@contoso.onmicrosoft.com', 'Passw0rd!')}`), '235 2.7.0 Authentication successful');
      c.close();
    });
  });

  test('nodemailer sees the refusal as EAUTH 535 with Exchange\'s reply', async () => {
    const transport = nodemailer.createTransport({
      host: emulator.smtp.host, port: emulator.smtp.port, secure: false, requireTLS: true, forceAuth: true,
      tls: { ca: [emulator.caPem], servername: 'localhost' },
      auth: { type: 'OAuth2', user: noConsent.authorizedFrom, accessToken: tokens.get(noConsent)! },
    });
    await assert.rejects(transport.verify(), (err: any) => {
      assert.equal(err.code, 'EAUTH');
      assert.equal(err.responseCode, 535);
      assert.match(err.response, GENERIC_535);
      return true;
    });
    transport.close();
  });
});
