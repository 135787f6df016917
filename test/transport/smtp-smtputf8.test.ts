/**
 * SMTPUTF8 for UTF-8 header fields (RFC 6531 §3.4) on every SMTP send path, against the emulated
 * Exchange (which offers SMTPUTF8 as Exchange Online does, and records each command line): a
 * message whose only non-ASCII bytes are in its header fields, with an ASCII envelope, says
 * SMTPUTF8 on MAIL FROM whether it goes pipelined with BDAT (smtp-pipeline.ts), through
 * nodemailer's PIPELINING path or one command at a time; an ASCII header or an API-composed
 * message (RFC 2047 encoded header) does not; a server that does not offer SMTPUTF8 gets the
 * message as before, without the keyword.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startEmulator, buildTenantState, type Emulator, type BuiltTenant, type SmtpSessionLogEntry } from '../../src/emulator/index.js';
import { parseSettings } from '../../src/core/settings.js';
import { createMailer, type MailerDeps } from '../../src/mailer.js';

let emu: Emulator;
let tenant: BuiltTenant;
before(async () => {
  tenant = buildTenantState();
  emu = await startEmulator(tenant.state, { limits: false });
});
after(async () => {
  await emu.stop();
});

function server(smtp: { pipelining?: boolean; chunking?: boolean; smtputf8?: boolean }): void {
  emu.setState({ ...tenant.state, smtp });
  emu.clearFaults();
  emu.resetStats();
  emu.clearMessages();
  emu.clearLog();
}

const UTF8_HEADER = () => `From: Señor Escáner <${tenant.authorizedFrom}>\r\nTo: <ana@example.com>\r\nSubject: Documento – año 2026\r\nMessage-ID: <utf8-${Math.random().toString(36).slice(2)}@contoso.onmicrosoft.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAdjunto: ñandú.pdf\r\n`;
const ASCII_HEADER = () => `From: <${tenant.authorizedFrom}>\r\nTo: <ana@example.com>\r\nSubject: plain\r\nMessage-ID: <ascii-${Math.random().toString(36).slice(2)}@contoso.onmicrosoft.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße only in the body\r\n`;

/** Sends one raw message (or an API-composed one) and returns the MAIL FROM line the emulator got, the bytes it stored and the round trips. */
async function sendOne(deps: MailerDeps, message: { raw: string } | { composed: true }): Promise<{ mailFrom: string; raw: Buffer; roundTrips: number }> {
  const r = parseSettings({
    clientId: tenant.clientId, tenantId: tenant.tenantId, clientSecret: tenant.clientSecret ?? undefined, authorizedFrom: tenant.authorizedFrom,
    smtpHost: emu.smtp.host, smtpPort: emu.smtp.port, authorityHost: emu.authorityHost,
  });
  assert.ok(r.ok);
  const mailer = createMailer(r.settings, { ca: emu.caPem, maxConnections: 1, ...deps });
  let content: Buffer | undefined;
  try {
    if ('raw' in message) {
      content = Buffer.from(message.raw, 'utf8');
      await mailer.send({ to: ['ana@example.com'], subject: 'x', raw: { content, envelope: { from: tenant.authorizedFrom, to: ['ana@example.com'] } } });
    } else {
      await mailer.send({ to: ['ana@example.com'], subject: 'Documento – año 2026 (ñandú)', text: 'Grüße' });
    }
  } finally {
    await mailer.close();
  }
  const mails = emu.log().filter((e): e is SmtpSessionLogEntry => e.kind === 'smtp').flatMap((e) => e.commands.map((c) => c.command)).filter((c) => /^MAIL FROM:/i.test(c));
  assert.equal(mails.length, 1, `one MAIL FROM: ${mails.join(' | ')}`);
  const stored = emu.messages();
  assert.equal(stored.length, 1, 'delivered');
  const raw = emu.rawMessage(stored[0]!.id)!;
  if (content) assert.ok(raw.subarray(raw.length - content.length).equals(content), 'the message byte for byte');
  return { mailFrom: mails[0]!, raw, roundTrips: emu.stats().smtpRoundTripsLast };
}

describe('SMTPUTF8 for UTF-8 header fields with an ASCII envelope, on each send path', () => {
  const paths: Array<{ name: string; smtp: { pipelining?: boolean; chunking?: boolean }; deps: MailerDeps; roundTrips: number }> = [
    { name: 'pipelined with BDAT (PIPELINING and CHUNKING)', smtp: {}, deps: {}, roundTrips: 1 },
    { name: "nodemailer's PIPELINING path (no CHUNKING)", smtp: { chunking: false }, deps: {}, roundTrips: 2 },
    { name: 'one command at a time (neither offered)', smtp: { pipelining: false, chunking: false }, deps: {}, roundTrips: 4 },
    { name: 'one command at a time (MAILGATE_SMTP_PIPELINING=off on Exchange)', smtp: {}, deps: { pipelining: false }, roundTrips: 4 },
  ];
  for (const p of paths) {
    test(`${p.name}: MAIL FROM says SMTPUTF8 for UTF-8 header fields, not for an ASCII header`, async () => {
      server(p.smtp);
      const utf8 = await sendOne(p.deps, { raw: UTF8_HEADER() });
      assert.equal(utf8.roundTrips, p.roundTrips, 'the path under test');
      assert.match(utf8.mailFrom, /^MAIL FROM:<[\x00-\x7f]+>(?: \S+)* SMTPUTF8(?: |$)/, utf8.mailFrom);
      assert.equal(utf8.mailFrom.match(/SMTPUTF8/g)?.length, 1, 'said once');
      server(p.smtp);
      const ascii = await sendOne(p.deps, { raw: ASCII_HEADER() });
      assert.doesNotMatch(ascii.mailFrom, /SMTPUTF8/, `8-bit body text alone: ${ascii.mailFrom}`);
    });

    test(`${p.name}: a server that does not offer SMTPUTF8 gets the message as before, without the keyword`, async () => {
      server({ ...p.smtp, smtputf8: false });
      const got = await sendOne(p.deps, { raw: UTF8_HEADER() });
      assert.equal(got.roundTrips, p.roundTrips, 'the path under test');
      assert.doesNotMatch(got.mailFrom, /SMTPUTF8/, got.mailFrom);
    });

    test(`${p.name}: an API-composed message (RFC 2047 header) gets no SMTPUTF8`, async () => {
      server(p.smtp);
      const got = await sendOne(p.deps, { composed: true });
      const end = got.raw.indexOf('\r\n\r\n');
      assert.ok(!got.raw.subarray(0, end).some((b) => b >= 0x80), 'the composed header is ASCII');
      assert.doesNotMatch(got.mailFrom, /SMTPUTF8/, got.mailFrom);
    });
  }
});
