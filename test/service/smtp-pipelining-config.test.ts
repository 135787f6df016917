/**
 * MAILGATE_SMTP_PIPELINING (issue 19): parsed with the service settings (on by default), and
 * carried through the service into the delivery thread's mailers: on, a message to the
 * emulated Exchange costs one round trip; off, one per command.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseServiceConfig } from '../../src/service/config.js';
import { startPair } from './e2e-helpers.js';

describe('MAILGATE_SMTP_PIPELINING', () => {
  it('is on by default, takes on/off, and names itself when the value is wrong', () => {
    const def = parseServiceConfig({});
    assert.ok(def.ok && def.config.smtpPipelining === 'on');
    const off = parseServiceConfig({ MAILGATE_SMTP_PIPELINING: 'off' });
    assert.ok(off.ok && off.config.smtpPipelining === 'off');
    const bad = parseServiceConfig({ MAILGATE_SMTP_PIPELINING: 'sometimes' });
    assert.ok(!bad.ok && bad.problems.some((p) => p.env === 'MAILGATE_SMTP_PIPELINING' && /must be on or off/.test(p.message)));
  });

  for (const [value, perMessage] of [['on', 1], ['off', 4]] as const) {
    it(`${value}: the service's deliveries cost ${perMessage} round trip(s) per message at the emulator`, async () => {
      const p = await startPair({ env: { MAILGATE_SMTP_PIPELINING: value } });
      try {
        const accepted = await p.submit(6, 1);
        await p.waitForStatus(accepted.map((a) => a.id), 'sent', 30_000);
        const s = p.emulator.stats();
        assert.equal(s.smtpTransactions, 6);
        assert.equal(s.smtpRoundTrips, 6 * perMessage, `round trips ${s.smtpRoundTrips} for ${s.smtpTransactions} messages`);
      } finally {
        await p.stop();
      }
    });
  }
});
