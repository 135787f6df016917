/**
 * An error from the delivery thread keeps the stack it had in the thread (scrubbed), so the
 * log line of an unexpected failure shows where it happened, not errorFromPlain's frame.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MailgateError } from '../../src/core/errors.js';
import { scrubText } from '../../src/core/secret.js';
import { errorFromPlain, errorToPlain } from '../../src/service/delivery/thread/protocol.js';

function composeBug(): never {
  throw new TypeError('Cannot read properties of undefined (reading "x") near abc~secret-value-123');
}

describe('delivery thread errors', () => {
  it('an unexpected error crosses with its own stack, scrubbed', () => {
    let thrown: unknown;
    try {
      composeBug();
    } catch (e) {
      thrown = e;
    }
    const back = errorFromPlain(structuredClone(errorToPlain(thrown, (t) => scrubText(t, ['abc~secret-value-123']))));
    assert.match(back.stack ?? '', /^Error: Cannot read properties|^TypeError: Cannot read properties/);
    assert.match(back.stack ?? '', /at composeBug/, 'the frame where it happened');
    assert.doesNotMatch(back.stack ?? '', /errorFromPlain/);
    assert.equal((back.stack ?? '').includes('abc~secret-value-123'), false);
  });

  it('a MailgateError keeps its stack too', () => {
    const e = new MailgateError({ code: 'CONNECTION_LOST', phase: 'send', message: 'lost' });
    const back = errorFromPlain(structuredClone(errorToPlain(e)));
    assert.equal(back.stack, e.stack);
  });
});
