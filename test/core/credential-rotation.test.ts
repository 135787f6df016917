/**
 * The rotation rules (issue 17 item 3): the switch decision table pinned with Entra's real reply
 * bodies (test/fixtures/replies/aadsts-responses.json, turned into errors by the same code that
 * reads the token endpoint), and the rotation state machine's legal and illegal steps.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { applyRotationStep, failoverDecision, FAILOVER_TABLE, nextStep, rotationPhase, type RotationState } from '../../src/core/credential-rotation.js';
import { MailgateError } from '../../src/core/errors.js';
import { tokenErrorFromNetwork, tokenErrorFromResponse } from '../../src/auth/token-errors.js';

interface Fixture { status: number; body: { error_codes?: number[] } & Record<string, unknown> }
const fixtures = JSON.parse(readFileSync('test/fixtures/replies/aadsts-responses.json', 'utf8')) as Fixture[];
const ctx = { tenantId: 't', clientId: 'c', tokenEndpoint: 'https://login.microsoftonline.com/t/oauth2/v2.0/token', secrets: [] };
const errorOf = (f: Fixture) => tokenErrorFromResponse({ status: f.status, headers: {}, body: JSON.stringify(f.body) }, ctx);
const fixture = (code: number) => {
  const f = fixtures.find((x) => x.body.error_codes?.[0] === code);
  assert.ok(f, `a fixture for AADSTS${code}`);
  return f;
};

describe('failover decision table', () => {
  it('switches on an invalid secret, an expired secret and a refused certificate assertion (real reply bodies)', () => {
    for (const code of [7000215, 7000222, 700027]) {
      const d = failoverDecision(errorOf(fixture(code)));
      assert.equal(d.switch, true, `AADSTS${code}`);
      assert.equal(d.code, `AADSTS${code}`);
    }
  });

  it('does not switch on a disabled app, an unknown app or tenant, a wrong resource, or what no credential fixes', () => {
    for (const code of [7000112, 700016, 90002, 500011, 900023, 1002012, 53003, 7000218]) {
      const f = fixtures.find((x) => x.body.error_codes?.[0] === code);
      if (!f) continue;
      const d = failoverDecision(errorOf(f));
      assert.equal(d.switch, false, `AADSTS${code} must not switch`);
    }
    // Every fixture is decided, and only the three switch.
    const switching = fixtures.filter((f) => failoverDecision(errorOf(f)).switch).map((f) => f.body.error_codes?.[0]).sort();
    assert.deepEqual([...new Set(switching)], [700027, 7000215, 7000222].sort());
  });

  it('does not switch on network errors, 5xx/429 or errors that are not Entra refusals', () => {
    const network = tokenErrorFromNetwork(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), ctx);
    assert.equal(failoverDecision(network).switch, false);
    const unavailable = tokenErrorFromResponse({ status: 503, headers: {}, body: '{"error":"temporarily_unavailable"}' }, ctx);
    assert.equal(failoverDecision(unavailable).switch, false);
    assert.equal(failoverDecision(new Error('boom')).switch, false);
    assert.equal(failoverDecision(new MailgateError({ code: 'AUTH_FAILED', phase: 'auth', message: '535' })).switch, false);
    assert.equal(failoverDecision(new MailgateError({ code: 'TOKEN_REJECTED', phase: 'token', message: 'x', token: { status: 400, aadsts: [12345] } })).switch, false);
  });

  it('the table has one row per code, and the three switching codes are exactly the credential errors', () => {
    const codes = FAILOVER_TABLE.map((r) => r.aadsts);
    assert.equal(new Set(codes).size, codes.length);
    assert.deepEqual(FAILOVER_TABLE.filter((r) => r.switch).map((r) => r.aadsts).sort(), [700027, 7000215, 7000222].sort());
  });
});

describe('rotation state machine', () => {
  const only: RotationState = { primary: { present: true } };
  const ok = { at: '2026-12-04T05:00:00.000Z', ok: true };
  const bad = { at: '2026-12-04T05:00:00.000Z', ok: false, code: 'AADSTS7000215' };
  const refused = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof MailgateError && e.code === 'ROTATION_STEP_INVALID' && re.test(e.message));

  it('primary only → add → test ok → promote (swap) → remove', () => {
    assert.equal(rotationPhase(only), 'primary-only');
    const added = applyRotationStep(only, { step: 'add' });
    assert.equal(rotationPhase(added), 'secondary-untested');
    const tested = applyRotationStep(added, { step: 'test', slot: 'secondary', result: ok });
    assert.equal(rotationPhase(tested), 'secondary-tested');
    const primaryTested = applyRotationStep(tested, { step: 'test', slot: 'primary', result: bad });
    const promoted = applyRotationStep(primaryTested, { step: 'promote' });
    // Swapped: the new primary keeps its passed test, the old one (now secondary) its failed one.
    assert.deepEqual(promoted.primary, { present: true, lastTest: ok });
    assert.deepEqual(promoted.secondary, { lastTest: bad });
    const removed = applyRotationStep(promoted, { step: 'remove' });
    assert.equal(rotationPhase(removed), 'primary-only');
    assert.deepEqual(removed.primary.lastTest, ok);
  });

  it('refuses illegal steps with ROTATION_STEP_INVALID saying what to do next', () => {
    refused(() => applyRotationStep(only, { step: 'promote' }), /no secondary to make primary: add the new credential as the secondary first/);
    refused(() => applyRotationStep(only, { step: 'remove' }), /no secondary to remove/);
    refused(() => applyRotationStep(only, { step: 'test', slot: 'secondary', result: ok }), /no secondary to test/);
    const added = applyRotationStep(only, { step: 'add' });
    refused(() => applyRotationStep(added, { step: 'add' }), /has a secondary already .*test the secondary/);
    refused(() => applyRotationStep(added, { step: 'promote' }), /was not tested: test the secondary/);
    const failed = applyRotationStep(added, { step: 'test', slot: 'secondary', result: bad });
    refused(() => applyRotationStep(failed, { step: 'promote' }), /last test failed: the secondary's last test failed: fix it/);
    refused(() => applyRotationStep({ primary: { present: false } }, { step: 'add' }), /no primary/);
    assert.match(nextStep(failed), /promote with force/);
  });

  it('promote with force skips the test requirement', () => {
    const added = applyRotationStep(only, { step: 'add' });
    const promoted = applyRotationStep(added, { step: 'promote', force: true });
    assert.equal(promoted.primary.present, true);
    assert.ok(promoted.secondary);
    const failed = applyRotationStep(added, { step: 'test', slot: 'secondary', result: bad });
    assert.deepEqual(applyRotationStep(failed, { step: 'promote', force: true }).primary.lastTest, bad);
  });
});
