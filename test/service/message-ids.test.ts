/**
 * Message ids are UUIDv7 (src/service/outbox/message-ids.ts): still GUIDs (every id check and
 * route accepts them), unique, carrying the enqueue time, and growing with it, so the messages
 * table's unique id index is appended to instead of written at a random leaf per enqueue.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isGuid } from '../../src/core/settings.js';
import { newMessageId } from '../../src/service/outbox/message-ids.js';
import { createOutbox } from '../../src/service/outbox/outbox.js';
import type { NewMessage } from '../../src/service/outbox/store.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('message ids (UUIDv7)', () => {
  it('is a version-7, variant-10 GUID whose first 48 bits are the time in ms', () => {
    const at = Date.UTC(2026, 11, 4, 10, 0, 0, 123);
    const id = newMessageId(at);
    assert.match(id, V7);
    assert.ok(isGuid(id));
    assert.equal(parseInt(id.replace(/-/g, '').slice(0, 12), 16), at);
    // the largest 48-bit time and zero encode exactly too
    assert.equal(parseInt(newMessageId(2 ** 48 - 1).replace(/-/g, '').slice(0, 12), 16), 2 ** 48 - 1);
    assert.ok(newMessageId(0).startsWith('00000000-0000-7'));
  });

  it('is unique within one millisecond and sorts by time across milliseconds', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20_000; i++) ids.add(newMessageId(1_000));
    assert.equal(ids.size, 20_000);
    const series = [1_000, 1_001, 65_536, 2 ** 32, 2 ** 32 + 1, 2 ** 40].map((t) => newMessageId(t));
    assert.deepEqual([...series].sort(), series);
  });

  it('the outbox gives each submission a UUIDv7 of its enqueue time, and the Message-ID carries it', async () => {
    const stored: NewMessage[] = [];
    let now = Date.UTC(2026, 0, 1);
    const outbox = createOutbox({
      store: { enqueue: async (m: NewMessage) => (stored.push(m), { outcome: 'created', message: { id: m.id, status: 'queued' } }) } as never,
      now: () => now,
      settings: () => undefined,
      maxAgeMs: 1000,
    });
    const request = { payload: { to: ['a@example.com'], subject: 'Hi', text: 'x' }, recipientCount: 1 };
    await outbox.submit(request);
    now += 1;
    await outbox.submit(request);
    assert.match(stored[0].id, V7);
    assert.equal(parseInt(stored[0].id.replace(/-/g, '').slice(0, 12), 16), Date.UTC(2026, 0, 1));
    assert.ok(stored[0].id < stored[1].id);
    assert.equal(stored[0].messageIdHeader, `<${stored[0].id}@mailgate>`);
  });
});
