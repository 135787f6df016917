/**
 * A 10 MB message by Graph (issue 15 item 2), against the emulator: with Mail.ReadWrite it goes
 * as a draft + upload session + send (Message-ID kept, the attachment intact); without it the
 * message is not sent and the diagnosis names the ways out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MailgateError } from '../../src/core/errors.js';
import { diagnose } from '../../src/core/diagnosis/index.js';
import { parseSettings } from '../../src/core/settings.js';
import { createMailer } from '../../src/mailer.js';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';

const tenants = useEmulatedTenants({ limits: { messagesPerMinute: Infinity } });
const BIG = Buffer.alloc(10 * 1024 * 1024);
for (let i = 0; i < BIG.length; i += 4) BIG.writeUInt32LE((i * 2654435761) >>> 0, i);

function message(id: string) {
  return {
    to: ['someone@example.com'], subject: 'Quarterly archive', text: 'Attached.', messageId: id,
    attachments: [
      { filename: 'archive.bin', contentType: 'application/octet-stream', content: BIG },
      { filename: 'note.txt', contentType: 'text/plain', content: Buffer.from('small note') },
    ],
  };
}

describe('a 10 MB message by Graph', () => {
  it('with Mail.ReadWrite: draft, upload session, send; one message with the same Message-ID and the attachment intact', async () => {
    const t = tenants.tenant({ domain: 'readwrite.onmicrosoft.com', consentedRoles: ['Mail.Send', 'Mail.ReadWrite'] });
    tenants.emu.clearMessages();
    const r = parseSettings(tenants.rawFor(t, { transport: 'graph', graphEndpoint: tenants.emu.graph }));
    assert.ok(r.ok);
    const mailer = createMailer(r.settings, { ca: tenants.emu.caPem });
    try {
      const res = await mailer.send(message('<big-1@readwrite.onmicrosoft.com>'));
      assert.equal(res.transport, 'graph');
      assert.match(res.response, /^202 Accepted \(draft with upload session\)/);
      const received = tenants.emu.messages();
      assert.equal(received.length, 1);
      assert.equal(received[0]!.messageId, '<big-1@readwrite.onmicrosoft.com>');
      assert.equal(received[0]!.transport, 'graph');
      assert.equal(received[0]!.graph?.via, 'draft');
      const raw = tenants.emu.rawMessage(received[0]!.id)!.toString('latin1');
      const b64 = BIG.toString('base64');
      const body = raw.replace(/\r?\n/g, '');
      assert.ok(body.includes(b64.slice(0, 4096)) && body.includes(b64.slice(-4096)), 'the attachment arrived whole');
      assert.ok(raw.includes('small note') || body.includes(Buffer.from('small note').toString('base64')));
    } finally {
      await mailer.close();
    }
  });

  it('without Mail.ReadWrite: GRAPH_TOO_LARGE, nothing sent, the diagnosis names Mail.ReadWrite and SMTP', async () => {
    const t = tenants.tenant({ domain: 'sendonly.onmicrosoft.com', consentedRoles: ['Mail.Send'] });
    tenants.emu.clearMessages();
    const r = parseSettings(tenants.rawFor(t, { transport: 'graph', graphEndpoint: tenants.emu.graph }));
    assert.ok(r.ok);
    const mailer = createMailer(r.settings, { ca: tenants.emu.caPem });
    try {
      const e = await mailer.send(message('<big-2@sendonly.onmicrosoft.com>')).catch((x: unknown) => x);
      assert.ok(e instanceof MailgateError);
      assert.equal(e.code, 'GRAPH_TOO_LARGE');
      assert.equal(e.retryable, false);
      assert.equal(tenants.emu.messages().length, 0);
      const d = diagnose(e);
      assert.equal(d.id, 'graph-message-too-large');
      assert.match(d.fixes.join(' '), /Mail\.ReadWrite/);
      assert.match(d.fixes.join(' '), /Transport to smtp/);
    } finally {
      await mailer.close();
    }
  });
});
