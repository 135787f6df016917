/**
 * MAILGATE_SMTP_PIPELINING in the commands that talk SMTP outside the service: `mailgate send`
 * and the doctor's test message pipeline like the service (one round trip per message at the
 * emulated Exchange) and stop when it is off (one command per round trip).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';
import { runCli, singleJson } from '../helpers/cli.js';
import { runDoctor } from '../../src/doctor/index.js';

const fixture = useEmulatedTenants({ limits: false });
const SEND = ['send', '--to', 'someone@example.com', '--subject', 'Password reset', '--text', 'Your code is 123456', '--json'];

for (const [value, roundTrips] of [[undefined, 1], ['off', 4]] as const) {
  test(`mailgate send with MAILGATE_SMTP_PIPELINING ${value ?? 'unset'}: ${roundTrips} round trip(s)`, async () => {
    const t = fixture.tenant();
    const r = await runCli(SEND, fixture.envFor(t, value ? { MAILGATE_SMTP_PIPELINING: value } : {}));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(singleJson(r.stdout).ok, true);
    assert.equal(fixture.emu.stats().smtpTransactions, 1);
    assert.equal(fixture.emu.stats().smtpRoundTripsLast, roundTrips);
  });

  test(`the doctor's test message with pipelining ${value ?? 'on'}: ${roundTrips} round trip(s)`, async () => {
    const t = fixture.tenant();
    const report = await runDoctor(fixture.rawFor(t), { to: 'someone@example.com', ca: fixture.emu.caPem, pipelining: value !== 'off' });
    assert.equal(report.checks.find((c) => c.id === 'send')?.status, 'pass', JSON.stringify(report.checks.map((c) => [c.id, c.status, c.summary])));
    assert.equal(fixture.emu.stats().smtpRoundTripsLast, roundTrips);
  });
}
