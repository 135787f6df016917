/**
 * Token failover (issue 17 item 3): the primary refused with a switching code (real reply
 * bodies) → the secondary at once, one event, and it stays there; a disabled app (7000112) or a
 * network error never tries the secondary; both refused → the primary's error names the
 * secondary's answer. Then the real token provider (MSAL) against the emulator: an expired
 * primary switches, one token request per token lifetime afterwards, and a disabled app does not.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CredentialFailover, type FailoverEvent } from '../../src/auth/credential-failover.js';
import { tokenErrorFromNetwork, tokenErrorFromResponse } from '../../src/auth/token-errors.js';
import { MailgateError } from '../../src/core/errors.js';
import type { RotationSlot } from '../../src/core/credential-rotation.js';
import { parseSettings } from '../../src/core/settings.js';
import { buildTenantState, startEmulator } from '../../src/emulator/index.js';
import { createTokenProvider } from '../../src/mailer.js';

interface Fixture { status: number; body: { error_codes?: number[] } & Record<string, unknown> }
const fixtures = JSON.parse(readFileSync('test/fixtures/replies/aadsts-responses.json', 'utf8')) as Fixture[];
const ctx = { tenantId: 't', clientId: 'c', tokenEndpoint: 'https://login.microsoftonline.com/t/oauth2/v2.0/token', secrets: [] };
const refusal = (code: number) => {
  const f = fixtures.find((x) => x.body.error_codes?.[0] === code)!;
  return tokenErrorFromResponse({ status: f.status, headers: {}, body: JSON.stringify(f.body) }, ctx);
};
const TOKEN = { token: 'tok', expiresAt: Date.now() + 3600_000 };

function scripted(primary: () => unknown, secondary: () => unknown = () => TOKEN) {
  const calls: RotationSlot[] = [];
  const fetch = async (slot: RotationSlot) => {
    calls.push(slot);
    const r = slot === 'primary' ? primary() : secondary();
    if (r instanceof Error) throw r;
    return r as typeof TOKEN;
  };
  return { calls, fetch };
}

describe('credential failover', () => {
  for (const code of [7000215, 7000222, 700027]) {
    it(`AADSTS${code} on the primary: the secondary at once, one event, and it stays on the secondary`, async () => {
      const events: FailoverEvent[] = [];
      const f = new CredentialFailover({ hasSecondary: true, onFailover: (e) => events.push(e), now: () => 1000 });
      const s = scripted(() => refusal(code));
      assert.deepEqual(await f.request(s.fetch), TOKEN);
      assert.deepEqual(s.calls, ['primary', 'secondary']);
      assert.deepEqual(events, [{ code: `AADSTS${code}`, at: 1000 }]);
      assert.equal(f.active, 'secondary');
      await f.request(s.fetch);
      assert.deepEqual(s.calls, ['primary', 'secondary', 'secondary'], 'no refused primary request every token lifetime');
      assert.equal(events.length, 1);
    });
  }

  it('AADSTS7000112 (app disabled), 700016, 90002 and network errors never try the secondary', async () => {
    const network = tokenErrorFromNetwork(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), ctx);
    for (const error of [refusal(7000112), refusal(700016), refusal(90002), network]) {
      const events: FailoverEvent[] = [];
      const f = new CredentialFailover({ hasSecondary: true, onFailover: (e) => events.push(e) });
      const s = scripted(() => error);
      await assert.rejects(f.request(s.fetch), (e) => e === error);
      assert.deepEqual(s.calls, ['primary']);
      assert.equal(events.length, 0);
      assert.equal(f.active, 'primary');
    }
  });

  it('without a secondary the refusal is thrown as is; with both refused, the primary\'s error names the secondary\'s answer', async () => {
    const alone = new CredentialFailover({ hasSecondary: false });
    const s1 = scripted(() => refusal(7000222));
    await assert.rejects(alone.request(s1.fetch), (e: unknown) => e instanceof MailgateError && e.token?.aadsts?.[0] === 7000222);
    assert.deepEqual(s1.calls, ['primary']);
    const both = new CredentialFailover({ hasSecondary: true });
    const s2 = scripted(() => refusal(7000222), () => refusal(7000215));
    await assert.rejects(both.request(s2.fetch), (e: unknown) => e instanceof MailgateError && e.token?.aadsts?.[0] === 7000222 && /secondary credential was tried at once and refused too: AADSTS7000215/.test(e.message) && e.context.secondaryRefused === 'AADSTS7000215');
    assert.equal(both.active, 'primary');
  });

  it('the real token provider against the emulator: an expired primary switches; a disabled app does not', async () => {
    const built = buildTenantState({});
    const second = 'Sc28Q~the-secondary-secret-0123456789abcdef';
    built.state.tenants[0]!.apps[0]!.secrets.push({ id: randomUUID(), value: second, expires: new Date(Date.now() + 86_400_000).toISOString() } as never);
    built.state.tenants[0]!.apps[0]!.secrets[0]!.expires = new Date(Date.now() - 60_000).toISOString();
    const emulator = await startEmulator(built.state);
    try {
      const parsed = parseSettings({ tenantId: built.tenantId, clientId: built.clientId, clientSecret: built.clientSecret, clientSecretSecondary: second, authorizedFrom: built.authorizedFrom, authorityHost: emulator.authorityHost });
      assert.ok(parsed.ok);
      const events: FailoverEvent[] = [];
      const provider = createTokenProvider(parsed.settings, { ca: emulator.caPem, tokenRetry: { maxAttempts: 1 }, onCredentialFailover: (e) => events.push(e) });
      const t = await provider.getToken();
      assert.ok(t.token.length > 20);
      assert.deepEqual(events.map((e) => e.code), ['AADSTS7000222']);
      // Graph's token of the same credential goes straight to the secondary (one state per credential).
      emulator.resetStats();
      await provider.forResource('https://graph.microsoft.com/.default').getToken();
      assert.equal(emulator.stats().tokenRequests, 1);
      assert.equal(events.length, 1);

      // The app disabled: AADSTS7000112, and the secondary is never tried.
      const state = structuredClone(built.state);
      state.tenants[0]!.apps[0]!.enabled = false;
      state.tenants[0]!.apps[0]!.secrets[0]!.expires = new Date(Date.now() + 86_400_000).toISOString();
      emulator.setState(state);
      emulator.resetStats();
      const disabled: FailoverEvent[] = [];
      const p2 = createTokenProvider(parsed.settings, { ca: emulator.caPem, tokenRetry: { maxAttempts: 1 }, onCredentialFailover: (e) => disabled.push(e) });
      await assert.rejects(p2.getToken(), (e: unknown) => e instanceof MailgateError && e.token?.aadsts?.[0] === 7000112 && !/secondary/.test(e.message));
      assert.equal(emulator.stats().tokenRequests, 1, 'one request: the primary only');
      assert.equal(disabled.length, 0);
    } finally {
      await emulator.stop();
    }
  });
});
