/**
 * MIME composition: the transfer encoding chosen for the body (named for US-ASCII bodies, left
 * to nodemailer otherwise), the stable Message-ID, and the envelope.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { composeMessage } from '../../src/transport/compose-message.js';

const FROM = 'app@contoso.com';
const bodyOf = (raw: Buffer) => raw.toString('utf8').split('\r\n\r\n').slice(1).join('\r\n\r\n');
const header = (raw: Buffer, name: string) => new RegExp(`^${name}: (.*)$`, 'mi').exec(raw.toString('utf8').split('\r\n\r\n')[0])?.[1];
const qpDecode = (s: string) => s.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));

describe('composeMessage', () => {
  it('an ASCII body with long lines goes quoted-printable and decodes to the text', async () => {
    const text = Array.from({ length: 50 }, (_, i) => `${i} a line longer than seventy-six characters, with = signs and trailing words here.`).join('\r\n');
    const r = await composeMessage({ to: ['a@example.com'], subject: 'Reset', text }, FROM);
    assert.equal(header(r.raw, 'Content-Transfer-Encoding'), 'quoted-printable');
    assert.ok(bodyOf(r.raw).split('\r\n').every((l) => l.length <= 76), 'lines wrapped at 76');
    assert.equal(qpDecode(bodyOf(r.raw)).trimEnd(), text);
  });

  it('an ASCII body with short lines stays 7bit, verbatim', async () => {
    const text = 'Your code is 123456.\r\nIt expires in 10 minutes.';
    const r = await composeMessage({ to: ['a@example.com'], subject: 'Code', text }, FROM);
    assert.equal(header(r.raw, 'Content-Transfer-Encoding'), '7bit');
    assert.equal(bodyOf(r.raw).trimEnd(), text);
  });

  it('a mostly non-Latin body keeps nodemailer\'s choice (base64)', async () => {
    const text = 'Ваш код подтверждения: 123456. Срок действия — 10 минут.';
    const r = await composeMessage({ to: ['a@example.com'], subject: 'Код', text }, FROM);
    assert.equal(header(r.raw, 'Content-Transfer-Encoding'), 'base64');
    assert.equal(Buffer.from(bodyOf(r.raw).replace(/\r\n/g, ''), 'base64').toString('utf8'), text);
    assert.match(header(r.raw, 'Subject') ?? '', /^=\?UTF-8\?[BQ]\?/);
  });

  it('keeps a given Message-ID and builds the envelope from all recipients once each', async () => {
    const r = await composeMessage({ to: ['A <a@example.com>'], cc: ['b@example.com'], bcc: ['a@example.com', 'c@example.com'], subject: 's', text: 't', messageId: '<fixed@contoso.com>' }, FROM);
    assert.equal(r.messageId, '<fixed@contoso.com>');
    assert.equal(header(r.raw, 'Message-ID'), '<fixed@contoso.com>');
    assert.deepEqual(r.envelope, { from: FROM, to: ['a@example.com', 'b@example.com', 'c@example.com'] });
    assert.ok(!/^Bcc:/mi.test(r.raw.toString()), 'no Bcc header');
  });

  it('an attachment with a cid is an inline part with that Content-ID (an inline image)', async () => {
    const png = Buffer.from('89504e470d0a1a0a', 'hex');
    const r = await composeMessage({ to: ['a@example.com'], subject: 'Logo', html: '<img src="cid:logo@example">', attachments: [{ filename: 'logo.png', contentType: 'image/png', content: png, cid: 'logo@example' }] }, FROM);
    const text = r.raw.toString('utf8');
    assert.match(text, /^Content-Type: multipart\/related/m);
    assert.match(text, /^Content-Id: <logo@example>$/im);
    assert.match(text, /^Content-Disposition: inline; filename=logo\.png$/im);
  });
});
