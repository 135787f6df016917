/**
 * A relayed message sent by Graph keeps every envelope recipient: Graph reads recipients from
 * the MIME headers, so envelope-only (Bcc) recipients are written back as a Bcc line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headerRecipients, withEnvelopeRecipients } from '../../src/transport/graph/envelope-bcc.js';

const raw = Buffer.from(
  'From: app@contoso.com\r\nTo: "Ann" <Ann@Example.com>,\r\n bob@example.com\r\nCc: carol@example.com\r\nSubject: to: not@header.com\r\n\r\nTo: body@example.com\r\n',
  'latin1',
);

test('reads To and Cc (folded, display names, any case), not the body or other headers', () => {
  assert.deepEqual([...headerRecipients(raw)].sort(), ['ann@example.com', 'bob@example.com', 'carol@example.com']);
});

test('adds a Bcc line for envelope recipients the headers do not name, and nothing else', () => {
  const out = withEnvelopeRecipients(raw, ['ann@example.com', 'bob@example.com', 'carol@example.com', 'dave@example.com', 'erin@example.com']);
  assert.equal(out.toString('latin1'), 'Bcc: dave@example.com,\r\n erin@example.com\r\n' + raw.toString('latin1'));
});

test('a message whose headers name every envelope recipient is unchanged (same buffer)', () => {
  assert.equal(withEnvelopeRecipients(raw, ['ANN@example.com', 'carol@example.com']), raw);
});
