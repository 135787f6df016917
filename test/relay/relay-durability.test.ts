/**
 * Relay durability (issue 14): a message answered `250 ... queued as <id>` by `mailgate serve`
 * (a child process) survives `kill -9` right after the reply and is delivered after the restart,
 * with the Message-ID the relay gave it.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startEmulator } from '../../src/emulator/index.js';
import { createRelayClient } from '../../src/service/access/relay-clients.js';
import { openSqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { RawSmtpClient } from '../helpers/emulator-client.js';
import { MASTER_KEY } from '../service/e2e-helpers.js';
import { tempDir, waitFor } from '../service/helpers.js';
import { dataOf, deviceMessage } from './relay-helpers.js';
import { serveEnv } from '../helpers/serve-env.js';
import { startServe } from '../helpers/serve-process.js';


async function startRelayServe(env: Record<string, string>): Promise<{ proc: ChildProcess; relayPort: number }> {
  const c = await startServe(env, { also: /SMTP relay on [^:]+:(\d+) \(STARTTLS\)/ });
  return { proc: c.proc, relayPort: Number(c.also![1]) };
}

describe('relay durability', () => {
  it('250 then kill -9 of mailgate serve then restart: the message is delivered', async () => {
    const emulator = await startEmulator(undefined, { limits: { messagesPerMinute: Infinity } });
    const tmp = tempDir('mailgate-relay-crash-');
    const demo = emulator.demo!;
    // Nothing is delivered before the kill: the worker is off in the first run.
    const env = serveEnv(emulator, tmp.dir, MASTER_KEY, { MAILGATE_RELAY_PORT: '0', MAILGATE_LEASE_SECONDS: '1', MAILGATE_WORKER: 'off' });
    let proc: ChildProcess | undefined;
    try {
      // The client is created by "another process" (the CLI) while nothing runs.
      const setup = openSqliteStore(tmp.dir);
      const cred = await createRelayClient(setup, { name: 'crash-device' }, { now: Date.now(), actor: 'cli' });
      await setup.close();

      const first = await startRelayServe(env);
      proc = first.proc;
      const ca = readFileSync(join(tmp.dir, 'relay-tls', 'cert.pem'), 'utf8');
      const c = await RawSmtpClient.connectSecure(first.relayPort, ca);
      assert.match(await c.send(`AUTH PLAIN ${Buffer.from(`\0${cred.username}\0${cred.password}`).toString('base64')}`), /^235 /);
      await c.send(`MAIL FROM:<${demo.authorizedFrom}>`);
      await c.send('RCPT TO:<user@example.com>');
      await c.send('DATA');
      const reply = await c.send(dataOf(deviceMessage({ from: demo.authorizedFrom, to: 'user@example.com', subject: 'survives kill -9' })).replace(/\r\n$/, ''));
      const id = /^250 2\.0\.0 Ok: queued as (.+)$/.exec(reply)?.[1];
      assert.ok(id, reply);
      proc.kill('SIGKILL');
      await new Promise((r) => proc!.once('exit', r));

      const second = await startRelayServe({ ...env, MAILGATE_WORKER: 'on' });
      proc = second.proc;
      await waitFor(() => emulator.messages().find((m) => m.subject === 'survives kill -9'), 20_000, 'delivered after the restart');
      assert.equal(emulator.messages().filter((m) => m.subject === 'survives kill -9').length, 1);
    } finally {
      proc?.kill('SIGKILL');
      await emulator.stop();
      tmp.remove();
    }
  });

  it('200 messages over 3 connections with a kill -9 in the middle: every 250 is delivered, none half', async () => {
    const emulator = await startEmulator(undefined, { limits: { messagesPerMinute: Infinity } });
    const tmp = tempDir('mailgate-relay-crash2-');
    const demo = emulator.demo!;
    const env = serveEnv(emulator, tmp.dir, MASTER_KEY, { MAILGATE_RELAY_PORT: '0', MAILGATE_LEASE_SECONDS: '1' });
    let proc: ChildProcess | undefined;
    try {
      const setup = openSqliteStore(tmp.dir);
      const cred = await createRelayClient(setup, { name: 'burst-device' }, { now: Date.now(), actor: 'cli' });
      await setup.close();
      const first = await startRelayServe(env);
      proc = first.proc;
      const ca = readFileSync(join(tmp.dir, 'relay-tls', 'cert.pem'), 'utf8');
      const accepted = new Map<string, string>(); // subject -> id
      const END = 'END-OF-MESSAGE-MARKER';
      let sent = 0;
      let killed = false;
      await Promise.all([0, 1, 2].map(async (conn) => {
        const c = await RawSmtpClient.connectSecure(first.relayPort, ca);
        await c.send(`AUTH PLAIN ${Buffer.from(`\0${cred.username}\0${cred.password}`).toString('base64')}`);
        try {
          for (let i = 0; sent < 200; i++) {
            sent++;
            const subject = `burst-${conn}-${i}`;
            await c.send(`MAIL FROM:<${demo.authorizedFrom}>`);
            await c.send('RCPT TO:<user@example.com>');
            await c.send('DATA');
            const reply = await c.send(dataOf(deviceMessage({ from: demo.authorizedFrom, to: 'user@example.com', subject, body: `${'x'.repeat(2000)}\r\n${END}` })).replace(/\r\n$/, ''));
            const id = /^250 2\.0\.0 Ok: queued as (.+)$/.exec(reply)?.[1];
            if (id) accepted.set(subject, id);
            if (accepted.size >= 100 && !killed) {
              killed = true;
              proc!.kill('SIGKILL');
            }
          }
        } catch {
          // the connection died with the process
        }
      }));
      assert.ok(killed, 'killed in the middle');
      await new Promise((r) => (proc!.exitCode !== null || proc!.signalCode !== null ? r(undefined) : proc!.once('exit', r)));
      assert.ok(accepted.size >= 100);
      const second = await startRelayServe(env);
      proc = second.proc;
      await waitFor(() => [...accepted.keys()].every((s) => emulator.messages().some((m) => m.subject === s)), 60_000, 'every accepted message delivered');
      for (const m of emulator.messages()) {
        const raw = emulator.rawMessage(m.id)!.toString();
        assert.ok(raw.includes(END), `${m.subject} arrived whole`);
      }
    } finally {
      proc?.kill('SIGKILL');
      await emulator.stop();
      tmp.remove();
    }
  });
});
