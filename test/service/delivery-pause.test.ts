import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeliveryPause, pausesDelivery, PAUSE_MAX_MS, PAUSE_MIN_MS } from '../../src/service/delivery/delivery-pause.js';

test('configuration refusals and mailbox-wide replies pause delivery; message-level ones do not', () => {
  assert.equal(pausesDelivery('AUTH_FAILED', '535 5.7.3'), true);
  assert.equal(pausesDelivery('TOKEN_REJECTED', undefined), true);
  assert.equal(pausesDelivery('TOKEN_UNAVAILABLE', undefined), true, 'permanent only when the token endpoint certificate is untrusted');
  assert.equal(pausesDelivery('SMTP_REJECTED', '550 5.7.708'), true);
  assert.equal(pausesDelivery('SMTP_REJECTED', '550 5.2.252'), true, 'continuous-error throttling');
  assert.equal(pausesDelivery('SMTP_REJECTED', '554 5.2.252'), false, 'SendAsDenied concerns one From');
  assert.equal(pausesDelivery('SMTP_REJECTED', '550 5.1.1'), false);
  assert.equal(pausesDelivery('ARGUMENT_INVALID', undefined), false);
});

test('one incident is one pause; a failed probe doubles it up to 15 minutes; other settings end it', () => {
  const p = new DeliveryPause();
  const settings = {};
  assert.equal(p.start('AUTH_FAILED', 's', settings, 0), PAUSE_MIN_MS);
  assert.equal(p.start('AUTH_FAILED', 's', settings, 10), undefined, 'messages failing together do not extend it');
  assert.equal(p.holds(30_000, 0), true);
  assert.equal(p.holds(PAUSE_MIN_MS, 1), true, 'the probe is still out');
  assert.equal(p.holds(PAUSE_MIN_MS, 0), false);
  let t = PAUSE_MIN_MS;
  let len = p.start('AUTH_FAILED', 's', settings, t)!;
  assert.equal(len, 2 * PAUSE_MIN_MS);
  for (let i = 0; i < 6; i++) {
    t += len;
    len = p.start('AUTH_FAILED', 's', settings, t)!;
  }
  assert.equal(len, PAUSE_MAX_MS);
  assert.equal(p.isFor(settings), true);
  assert.equal(p.isFor({}), false);
  assert.equal(p.end(), 'AUTH_FAILED');
  assert.equal(p.info, undefined);
});
