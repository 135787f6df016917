/**
 * The relay's failure replies and limits, on a real socket with a real SQLite store for the
 * relay clients: the outbox commit failing (451 4.3.0) or finding the disk full (452 4.3.1; the
 * outbox here is a stand-in that rejects, since the reply mapping is what is pinned), the
 * connection caps in total and per address (421 4.7.0), the idle and DATA timeouts (421 4.4.2,
 * nothing stored), and the implicit-TLS port.
 */
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log/logger.js';
import { createRelayClient, type CreatedRelayClient } from '../../src/service/access/relay-clients.js';
import { startRelay, type RunningRelay } from '../../src/service/intake/relay/relay-server.js';
import { loadRelayTls } from '../../src/service/intake/relay/relay-tls.js';
import type { RawSubmission } from '../../src/service/outbox/outbox.js';
import { openSqliteStore, type SqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { StorageFullError } from '../../src/service/outbox/store.js';
import { RawSmtpClient } from '../helpers/emulator-client.js';
import { LineCapture, tempDir, waitFor } from '../service/helpers.js';
import { dataOf, deviceMessage } from './relay-helpers.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const FROM = 'sender@contoso.com';

describe('relay limits and failure replies', () => {
  const tmp = tempDir('mailgate-relay-limits-');
  let store: SqliteStore;
  let relay: RunningRelay;
  let cred: CreatedRelayClient;
  let ca: string;
  let next: 'ok' | 'fail' | 'full' = 'ok';
  const submitted: RawSubmission[] = [];
  before(async () => {
    store = openSqliteStore(tmp.dir);
    cred = await createRelayClient(store, { name: 'limits' }, { now: Date.now(), actor: 'test' });
    const tls = await loadRelayTls({ dataDir: tmp.dir });
    ca = readFileSync(join(tmp.dir, 'relay-tls', 'cert.pem'), 'utf8');
    relay = await startRelay(
      { host: '127.0.0.1', port: 0, tlsPort: 0, hostname: 'relay.test', maxConnections: 6, maxConnectionsPerAddress: 4, authMaxFailures: 10, authWindowMs: 300_000, idleTimeoutMs: 1_000, dataTimeoutMs: 1_000 },
      {
        store,
        outbox: {
          async submitRaw(m) {
            if (next === 'fail') throw new Error('SQLITE_IOERR: disk I/O error');
            if (next === 'full') throw new StorageFullError();
            submitted.push(m);
            return { outcome: 'created', message: {} as never };
          },
        },
        sendable: () => [FROM],
        tls,
        logger: createLogger({ destination: new LineCapture(), level: 'warn' }),
      },
    );
  });
  after(async () => {
    await relay?.stop();
    await store?.close();
    tmp.remove();
  });

  async function transaction(c: RawSmtpClient, subject: string): Promise<string> {
    await c.send(`MAIL FROM:<${FROM}>`);
    await c.send('RCPT TO:<user@example.com>');
    await c.send('DATA');
    return c.send(dataOf(deviceMessage({ from: FROM, to: 'user@example.com', subject })).replace(/\r\n$/, ''));
  }

  it('store failure: 451 4.3.0; full disk: 452 4.3.1; then 250 again', async () => {
    const c = await RawSmtpClient.connectSecure(relay.port, ca);
    assert.match(await c.send(`AUTH PLAIN ${Buffer.from(`\0${cred.username}\0${cred.password}`).toString('base64')}`), /^235/);
    next = 'fail';
    assert.equal(await transaction(c, 'a'), '451 4.3.0 Temporary storage failure, try again');
    next = 'full';
    assert.equal(await transaction(c, 'b'), '452 4.3.1 Insufficient system storage');
    next = 'ok';
    assert.match(await transaction(c, 'c'), /^250 2\.0\.0 Ok: queued as [0-9a-f-]{36}$/);
    assert.equal(submitted.length, 1);
    c.write('QUIT\r\n');
    await waitFor(() => relay.connections() === 0, 5000, 'closed');
  });

  it('more connections from one address than allowed: 421 4.7.0 Too many connections', async () => {
    const open = await Promise.all(Array.from({ length: 4 }, () => RawSmtpClient.connect(relay.port)));
    for (const c of open) assert.match(await c.readReply(), /^220 relay\.test /);
    const extra = await RawSmtpClient.connect(relay.port);
    assert.equal(await extra.readReply(), '421 4.7.0 Too many connections');
    await waitFor(() => extra.closed, 5000, 'refused connection closed');
    for (const c of open) c.close();
    await waitFor(() => relay.connections() === 0, 5000, 'all closed');
  });

  it('the connection cap counts the implicit-TLS port too: 421 4.7.0 after the handshake', async () => {
    const plainOnes = await Promise.all(Array.from({ length: 3 }, () => RawSmtpClient.connect(relay.port)));
    for (const c of plainOnes) await c.readReply();
    const tlsOnes = await Promise.all(Array.from({ length: 3 }, () => new Promise<import('node:tls').TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ port: relay.tlsPort!, host: '127.0.0.1', ca, servername: 'localhost' }, () => resolve(s));
      s.once('error', reject);
    })));
    // 3 plain + 1 TLS fill the 4 per address (all tests connect from 127.0.0.1); 2 TLS are refused.
    const replies = await Promise.all(tlsOnes.map((s) => new Promise<string>((resolve) => s.once('data', (d) => resolve(String(d).trim())))));
    assert.deepEqual(replies.sort(), ['220 relay.test Mailgate ESMTP relay ready', '421 4.7.0 Too many connections', '421 4.7.0 Too many connections']);
    for (const s of tlsOnes) s.destroy();
    for (const c of plainOnes) c.close();
    await waitFor(() => relay.connections() === 0, 5000, 'all closed');
  });

  it('idle and DATA timeouts end the connection with 421 4.4.2 and store nothing', async () => {
    const idle = await RawSmtpClient.connect(relay.port);
    await idle.readReply();
    assert.equal(await idle.readReply(5000), '421 4.4.2 relay.test Timeout, closing connection');
    const before = submitted.length;
    const c = await RawSmtpClient.connectSecure(relay.port, ca);
    await c.send(`AUTH PLAIN ${Buffer.from(`\0${cred.username}\0${cred.password}`).toString('base64')}`);
    await c.send(`MAIL FROM:<${FROM}>`);
    await c.send('RCPT TO:<user@example.com>');
    assert.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    c.write('Subject: slow\r\n\r\npart of a body');
    await waitFor(() => c.closed, 5000, 'closed after the DATA timeout');
    assert.equal(submitted.length, before);
  });

  it('implicit TLS port: TLS 1.2 or later, greeting over TLS; TLS 1.1 refused', async () => {
    const s = tlsConnect({ port: relay.tlsPort!, host: '127.0.0.1', ca, servername: 'localhost' });
    const greeting = await new Promise<string>((resolve, reject) => {
      s.once('data', (d) => resolve(String(d)));
      s.once('error', reject);
    });
    assert.match(greeting, /^220 relay\.test /);
    assert.ok(['TLSv1.2', 'TLSv1.3'].includes(s.getProtocol()!));
    s.destroy();
    const old = tlsConnect({ port: relay.tlsPort!, host: '127.0.0.1', ca, servername: 'localhost', maxVersion: 'TLSv1.1', minVersion: 'TLSv1' });
    await assert.rejects(new Promise((resolve, reject) => {
      old.once('secureConnect', resolve);
      old.once('error', reject);
    }));
    old.destroy();
  });
});
