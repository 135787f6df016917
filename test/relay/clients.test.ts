/**
 * The relay with real SMTP clients (issue 14, "Tests with real clients"): `mailgate serve` with
 * the relay on, in front of the Microsoft 365 emulator; swaks, msmtp and curl from Debian,
 * Python's smtplib, nodemailer, and Postfix as a client (relayhost + SASL password map) each
 * send a message with a relay client's username and password over STARTTLS (and implicit TLS)
 * with AUTH PLAIN or LOGIN. Each message must arrive at the emulator's mailbox byte for byte
 * (only a `Received:` line added at the top), sent by Mailgate with XOAUTH2, with the envelope
 * the client gave.
 *
 * Skips loudly, naming the reason, when the relay is not in this build or a client binary is
 * missing (install them with scripts/install-system-deps.sh). MAILGATE_RELAY_CLIENTS_REQUIRED=1
 * turns a missing client into a failure (CI, where the packages are installed).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { PostfixClient } from './postfix-client.js';
import {
  buildMessage, byteFaithfulProblem, createRelayClientCli, freePort, locateClient, MAIN, makeRelayPki, relayEnv, relayUnavailableReason,
  runClient, scratchDir, sessionOf, startRelayService, waitForArrival,
  type ClientName, type ClientRun, type CreatedRelayClient, type RelayService, type TestPki,
} from './relay-harness.js';

const REQUIRED = process.env.MAILGATE_RELAY_CLIENTS_REQUIRED === '1';
const RCPT = 'printer-owner@example.com';
const ARRIVAL_MS = 30_000;

function loud(what: string, reason: string): void {
  process.stderr.write(`\n${'!'.repeat(78)}\n!! RELAY CLIENT TEST SKIPPED (${what}): ${reason}\n${'!'.repeat(78)}\n\n`);
}

const relayMissing = relayUnavailableReason();

if (relayMissing) {
  loud('all clients', relayMissing);
  test('relay: real SMTP clients through Mailgate to Exchange', { skip: `relay unavailable: ${relayMissing}` }, () => {});
} else {
  describe('relay: real SMTP clients through Mailgate to Exchange (XOAUTH2)', { timeout: 300_000 }, () => {
    let emulator: Emulator;
    let scratch: { dir: string; remove(): void };
    let pki: TestPki;
    let svc: RelayService | undefined;
    let client: CreatedRelayClient;
    let from: string;
    /** Messages that arrived through relayThrough so far. */
    let delivered = 0;

    before(async () => {
      emulator = await startEmulator(undefined, { limits: { messagesPerMinute: Infinity } });
      from = emulator.demo!.authorizedFrom;
      scratch = scratchDir('mg-relay-clients-');
      pki = makeRelayPki(scratch.dir);
      const env = relayEnv(emulator, path.join(scratch.dir, 'data'), pki, { port: await freePort(), tlsPort: await freePort() });
      client = createRelayClientCli(env, 'interop-clients', ['--allow-from', from]);
      assert.match(client.username, /\S/);
      assert.ok(client.password.length >= 16, 'a generated password of useful length');
      svc = await startRelayService(env);
    });

    after(async () => {
      await svc?.stop();
      await emulator?.stop();
      if (svc && process.env.MAILGATE_RELAY_KEEP !== '1') scratch.remove();
    });

    /** Skip (loudly) when the client is missing; fail instead when the suite is required. */
    function need(t: { skip(reason: string): void }, name: ClientName): string | undefined {
      const found = locateClient(name);
      if (found.ok) return found.bin;
      if (REQUIRED) assert.fail(`MAILGATE_RELAY_CLIENTS_REQUIRED=1 but ${name} is unusable: ${found.reason}`);
      loud(name, found.reason);
      t.skip(found.reason);
      return undefined;
    }

    /** Send one message with `send`, then check what Exchange received. */
    async function relayThrough(tag: string, send: (file: string, raw: Buffer) => Promise<ClientRun>, explainExtra: () => string = () => ''): Promise<void> {
      const msg = buildMessage({ from, to: RCPT, tag });
      const file = path.join(scratch.dir, `${tag}.eml`);
      writeFileSync(file, msg.raw);
      const run = await send(file, msg.raw);
      const explain = () => `client exit code ${run.code}; client output:\n${run.output}\n--- mailgate ---\n${svc!.output().slice(-4000)}\n${explainExtra()}`;
      assert.equal(run.code, 0, `the client reported a failure\n${explain()}`);
      const arrived = await waitForArrival(emulator, msg.messageId, ARRIVAL_MS, explain);
      // Sent by Mailgate with XOAUTH2 as the Authorized from Address, over TLS.
      const session = sessionOf(emulator, arrived.id);
      assert.ok(session, 'the emulator logged the session that carried the message');
      const auth = session.auth.find((a) => a.result === 'success');
      assert.equal(auth?.method, 'XOAUTH2', `Mailgate authenticated to Exchange with XOAUTH2 (got ${auth?.method})`);
      assert.equal(auth?.tlsActive, true);
      assert.equal(session.authenticatedAs?.toLowerCase(), from.toLowerCase());
      // The envelope the client gave.
      assert.equal(arrived.from.toLowerCase(), from.toLowerCase());
      assert.deepEqual(arrived.to.map((a) => a.toLowerCase()), [RCPT]);
      // Byte-faithful: the original bytes intact, only Received: added at the top.
      const raw = emulator.rawMessage(arrived.id);
      assert.ok(raw, 'the emulator kept the raw message');
      const problem = byteFaithfulProblem(raw, msg.raw);
      assert.equal(problem, undefined, problem);
      // The relay client's password never reaches Exchange or Mailgate's output.
      assert.ok(!raw.includes(client.password), 'the relay password is not in the delivered message');
      assert.ok(!svc!.output().includes(client.password), 'the relay password is not in Mailgate\'s output');
      delivered++;
    }

    /** swaks ends DATA with CRLF "." itself, after the data as given: give it the message without its last CRLF. */
    function swaksData(file: string, raw: Buffer): string {
      const trimmed = `${file}.swaks`;
      writeFileSync(trimmed, raw.subarray(0, raw.length - 2));
      return `@${trimmed}`;
    }

    test('swaks: STARTTLS + AUTH PLAIN', async (t) => {
      const bin = need(t, 'swaks');
      if (!bin) return;
      await relayThrough('swaks-plain', (file, raw) => runClient(bin, [
        '--server', '127.0.0.1', '--port', String(svc!.port), '--tls', '--tls-verify', '--tls-ca-path', pki.caFile,
        '--auth', 'PLAIN', '--auth-user', client.username, '--auth-password', client.password,
        '--from', from, '--to', RCPT, '--data', swaksData(file, raw), '--suppress-data', '--hide-all',
      ]));
    });

    test('swaks: implicit TLS (465 style) + AUTH LOGIN', async (t) => {
      const bin = need(t, 'swaks');
      if (!bin) return;
      await relayThrough('swaks-tlsc-login', (file, raw) => runClient(bin, [
        '--server', '127.0.0.1', '--port', String(svc!.tlsPort), '--tlsc', '--tls-verify', '--tls-ca-path', pki.caFile,
        '--auth', 'LOGIN', '--auth-user', client.username, '--auth-password', client.password,
        '--from', from, '--to', RCPT, '--data', swaksData(file, raw), '--suppress-data', '--hide-all',
      ]));
    });

    test('msmtp: STARTTLS + AUTH LOGIN (a sendmail replacement)', async (t) => {
      const bin = need(t, 'msmtp');
      if (!bin) return;
      const rc = path.join(scratch.dir, 'msmtprc');
      writeFileSync(rc, [
        'defaults',
        'logfile -',
        'account mailgate',
        'host 127.0.0.1',
        `port ${svc!.port}`,
        'tls on',
        'tls_starttls on',
        `tls_trust_file ${pki.caFile}`,
        'auth login',
        `user ${client.username}`,
        `password ${client.password}`,
        `from ${from}`,
        '',
      ].join('\n'), { mode: 0o600 });
      await relayThrough('msmtp-login', (_file, raw) => runClient(bin, ['-C', rc, '-a', 'mailgate', '-f', from, '--', RCPT], { input: raw }));
    });

    test('msmtp: the relay\'s certificate pinned with tls_fingerprint (as printed by mailgate serve)', async (t) => {
      const bin = need(t, 'msmtp');
      if (!bin) return;
      const fingerprint = new X509Certificate(readFileSync(pki.certFile)).fingerprint256;
      assert.ok(svc!.output().includes(fingerprint), 'mailgate serve printed the fingerprint a device pins');
      const rc = path.join(scratch.dir, 'msmtprc-pinned');
      writeFileSync(rc, [
        'account mailgate',
        'host 127.0.0.1',
        `port ${svc!.port}`,
        'tls on',
        'tls_starttls on',
        `tls_fingerprint ${fingerprint}`,
        'auth plain',
        `user ${client.username}`,
        `password ${client.password}`,
        `from ${from}`,
        'account default : mailgate',
        '',
      ].join('\n'), { mode: 0o600 });
      await relayThrough('msmtp-pinned', (_file, raw) => runClient(bin, ['-C', rc, '-f', from, '--', RCPT], { input: raw }));
    });

    test('curl: STARTTLS (--ssl-reqd) + AUTH PLAIN', async (t) => {
      const bin = need(t, 'curl');
      if (!bin) return;
      await relayThrough('curl-plain', (file) => runClient(bin, [
        '-sS', '--url', `smtp://127.0.0.1:${svc!.port}`, '--ssl-reqd', '--cacert', pki.caFile,
        '--login-options', 'AUTH=PLAIN', '--user', `${client.username}:${client.password}`,
        '--mail-from', from, '--mail-rcpt', RCPT, '--upload-file', file,
      ]));
    });

    test('curl: smtps:// (implicit TLS) + AUTH LOGIN', async (t) => {
      const bin = need(t, 'curl');
      if (!bin) return;
      await relayThrough('curl-smtps-login', (file) => runClient(bin, [
        '-sS', '--url', `smtps://127.0.0.1:${svc!.tlsPort}`, '--cacert', pki.caFile,
        '--login-options', 'AUTH=LOGIN', '--user', `${client.username}:${client.password}`,
        '--mail-from', from, '--mail-rcpt', RCPT, '--upload-file', file,
      ]));
    });

    test('Python smtplib: starttls() + login() (picks AUTH PLAIN) and sendmail(bytes)', async (t) => {
      const bin = need(t, 'python3');
      if (!bin) return;
      const script = [
        'import os, smtplib, ssl, sys',
        'ctx = ssl.create_default_context(cafile=os.environ["CA"])',
        'raw = open(os.environ["FILE"], "rb").read()',
        'with smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]), timeout=30) as s:',
        '    s.starttls(context=ctx)',
        '    s.ehlo()',
        '    s.login(os.environ["USER_NAME"], os.environ["PASSWORD"])',
        '    refused = s.sendmail(os.environ["FROM"], [os.environ["RCPT"]], raw, mail_options=["BODY=8BITMIME"])',
        '    print("refused:", refused)',
        '    sys.exit(1 if refused else 0)',
      ].join('\n');
      await relayThrough('python-plain', (file) => runClient(bin, ['-c', script], {
        env: { PATH: process.env.PATH, CA: pki.caFile, FILE: file, PORT: String(svc!.port), USER_NAME: client.username, PASSWORD: client.password, FROM: from, RCPT },
      }));
    });

    test('Python smtplib: SMTP_SSL (implicit TLS) + AUTH LOGIN', async (t) => {
      const bin = need(t, 'python3');
      if (!bin) return;
      const script = [
        'import os, smtplib, ssl, sys',
        'ctx = ssl.create_default_context(cafile=os.environ["CA"])',
        'raw = open(os.environ["FILE"], "rb").read()',
        'with smtplib.SMTP_SSL("127.0.0.1", int(os.environ["PORT"]), context=ctx, timeout=30) as s:',
        '    s.ehlo()',
        '    s.user, s.password = os.environ["USER_NAME"], os.environ["PASSWORD"]',
        '    s.auth("LOGIN", s.auth_login, initial_response_ok=False)',
        '    refused = s.sendmail(os.environ["FROM"], [os.environ["RCPT"]], raw, mail_options=["BODY=8BITMIME"])',
        '    sys.exit(1 if refused else 0)',
      ].join('\n');
      await relayThrough('python-ssl-login', (file) => runClient(bin, ['-c', script], {
        env: { PATH: process.env.PATH, CA: pki.caFile, FILE: file, PORT: String(svc!.tlsPort), USER_NAME: client.username, PASSWORD: client.password, FROM: from, RCPT },
      }));
    });

    for (const [method, secure] of [['PLAIN', false], ['LOGIN', true]] as const) {
      test(`nodemailer: ${secure ? 'implicit TLS' : 'STARTTLS (requireTLS)'} + AUTH ${method}, raw message`, async () => {
        await relayThrough(`nodemailer-${method.toLowerCase()}`, async (_file, raw) => {
          const transport = nodemailer.createTransport({
            host: '127.0.0.1', port: secure ? svc!.tlsPort : svc!.port, secure, requireTLS: !secure,
            tls: { ca: [pki.caPem] }, auth: { user: client.username, pass: client.password }, authMethod: method,
          });
          try {
            const info = await transport.sendMail({ envelope: { from, to: [RCPT] }, raw });
            return { code: 0, output: `${info.response}` };
          } catch (e) {
            return { code: 1, output: String((e as Error).message) };
          } finally {
            transport.close();
          }
        });
      });
    }

    for (const mechanism of ['plain', 'login'] as const) {
      test(`Postfix as a client: relayhost = [127.0.0.1]:PORT + SASL password map (${mechanism})`, async (t) => {
        const bin = need(t, 'postfix');
        if (!bin) return;
        const dir = scratchDir(`mg-relay-postfix-${mechanism}-`);
        let pf: PostfixClient | undefined;
        try {
          pf = await PostfixClient.start({ dir: dir.dir, relayPort: svc!.port, username: client.username, password: client.password, caFile: pki.caFile, mechanism });
          const submitPort = pf.submitPort;
          await relayThrough(`postfix-${mechanism}`, async (_file, raw) => {
            // A local application hands the message to Postfix (plain SMTP on loopback).
            const local = nodemailer.createTransport({ host: '127.0.0.1', port: submitPort, secure: false, ignoreTLS: true });
            try {
              const info = await local.sendMail({ envelope: { from, to: [RCPT] }, raw });
              return { code: 0, output: info.response };
            } catch (e) {
              return { code: 1, output: String((e as Error).message) };
            } finally {
              local.close();
            }
          }, () => `--- postfix log ---\n${pf?.log().slice(-4000) ?? ''}`);
          const log = pf.log();
          assert.match(log, new RegExp(`relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${svc!.port}.*status=sent`), 'Postfix relayed through Mailgate');
          assert.match(log, /TLS connection established to 127\.0\.0\.1/, 'Postfix used TLS towards Mailgate');
          assert.ok(!log.includes(client.password), 'Postfix did not log the password');
        } finally {
          await pf?.stop();
          dir.remove();
        }
      });
    }
  
    test('afterwards: the metrics, `relay-client list` and the doctor agree with what was sent', async () => {
      assert.ok(delivered > 0, 'at least one client ran');
      const env = svc!.env;
      // The stored counters follow the delivery results (written just after the send).
      const deadline = Date.now() + 15_000;
      let listed: { name: string; messagesSent: number; messagesFailed: number; lastUsedAt: string | null }[] = [];
      for (;;) {
        listed = JSON.parse(execFileSync(process.execPath, [MAIN, 'relay-client', 'list', '--json'], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' })) as typeof listed;
        if ((listed[0]?.messagesSent ?? 0) >= delivered || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(listed[0]?.name, 'interop-clients');
      assert.equal(listed[0]?.messagesSent, delivered);
      assert.equal(listed[0]?.messagesFailed, 0);
      assert.match(listed[0]?.lastUsedAt ?? '', /^\d{4}-/);
      const metrics = await (await fetch(`${svc!.url}/metrics`)).text();
      assert.match(metrics, new RegExp(`^mailgate_relay_messages_total\\{client="interop-clients",outcome="accepted"\\} ${delivered}$`, 'm'));
      assert.match(metrics, new RegExp(`^mailgate_relay_messages_total\\{client="interop-clients",outcome="sent"\\} ${delivered}$`, 'm'));
      assert.match(metrics, /^mailgate_relay_auth_failures_total 0$/m);
      assert.match(metrics, /^mailgate_relay_connections \d+$/m);
      // (The exit code is the whole report's; only the relay check matters here.)
      const doctor = spawnSync(process.execPath, [MAIN, 'doctor', '--json', '--timeout', '5000'], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' }).stdout;
      const relay = (JSON.parse(doctor) as { checks: { id: string; status: string; summary: string; details?: Record<string, unknown> }[] }).checks.find((c) => c.id === 'relay');
      assert.equal(relay?.status, 'pass', relay?.summary ?? doctor);
      assert.equal(relay?.details?.clients, 1);
      assert.equal(relay?.details?.tlsPort, svc!.tlsPort);
      // The service's own Diagnostics (admin page, POST /api/v1/diagnostics) end with it too.
      const { key } = JSON.parse(execFileSync(process.execPath, [MAIN, 'apikey', 'create', 'ops', '--scope', 'admin', '--json'], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' })) as { key: string };
      const api = await fetch(`${svc!.url}/api/v1/diagnostics`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
      assert.equal(api.status, 200);
      const served = ((await api.json()) as { checks: { id: string; status: string; details?: Record<string, unknown> }[] }).checks.at(-1);
      assert.equal(served?.id, 'relay');
      assert.equal(served?.status, 'pass');
      assert.equal(served?.details?.port, svc!.port);
    });
  });
}
