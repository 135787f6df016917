/**
 * The wiring of src/net/server-errors.ts: the HTTP API's server (src/app/service.ts) and the
 * relay's two servers (src/service/intake/relay/relay-server.ts) survive errors emitted on them
 * after they listen. Node emits 'error' on a listening server when accept fails (EMFILE/ENFILE
 * once libuv's reserve descriptor is spent, ENOBUFS); that cannot be provoked on demand, so the
 * test finds the real listening servers among the process's active handles and emits what
 * Node's accept path emits. Before the fix the second such error ended the process.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startService } from '../../src/app/service.js';
import { createLogger } from '../../src/log/logger.js';
import { startRelay } from '../../src/service/intake/relay/relay-server.js';
import { loadRelayTls } from '../../src/service/intake/relay/relay-tls.js';
import { openSqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { LineCapture, tempDir } from './helpers.js';

const acceptError = (): NodeJS.ErrnoException => Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', errno: -24, syscall: 'accept' });

/** The listening net.Server of this process on `port`. */
function serverOn(port: number): Server {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  const s = handles.find((h): h is Server => typeof (h as Server)?.address === 'function' && typeof (h as Server).listen === 'function' && ((h as Server).address() as AddressInfo | null)?.port === port);
  assert.ok(s, `a listening server on port ${port}`);
  return s;
}

describe('listening servers survive accept errors', () => {
  it('the HTTP API keeps answering after repeated accept errors, and logs them once', async () => {
    const t = tempDir();
    const logs = new LineCapture();
    const svc = await startService({
      env: { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: Buffer.alloc(32, 4).toString('base64'), MAILGATE_HTTP_PORT: '0', MAILGATE_HTTP_HOST: '127.0.0.1' },
      worker: false,
      logger: createLogger({ destination: logs, level: 'warn' }),
    });
    try {
      const server = serverOn(Number(new URL(svc.url).port));
      for (let i = 0; i < 3; i++) server.emit('error', acceptError());
      const r = await fetch(`${svc.url}/healthz`);
      assert.equal(r.status, 200, 'still answering');
      const said = logs.lines.filter((l) => l.includes('could not accept a connection'));
      assert.equal(said.length, 1, 'one log line for the burst of errors');
      assert.match(said[0]!, /EMFILE/);
    } finally {
      await svc.stop();
      t.remove();
    }
  });

  it('the SMTP relay keeps greeting on both ports after repeated accept errors', async () => {
    const t = tempDir();
    const store = openSqliteStore(t.dir);
    const logs = new LineCapture();
    const tls = await loadRelayTls({ dataDir: t.dir });
    const ca = readFileSync(join(t.dir, 'relay-tls', 'cert.pem'), 'utf8');
    const relay = await startRelay(
      { host: '127.0.0.1', port: 0, tlsPort: 0, hostname: 'relay.test', maxConnections: 6, maxConnectionsPerAddress: 4, authMaxFailures: 10, authWindowMs: 300_000, idleTimeoutMs: 1_000, dataTimeoutMs: 1_000 },
      {
        store,
        outbox: { submitRaw: async () => ({ outcome: 'created', message: {} as never }) },
        sendable: () => ['app@contoso.example'],
        tls,
        logger: createLogger({ destination: logs, level: 'warn' }),
      },
    );
    try {
      for (const port of [relay.port, relay.tlsPort!]) {
        const server = serverOn(port);
        for (let i = 0; i < 3; i++) server.emit('error', acceptError());
      }
      const greeting = (socket: Socket) => new Promise<string>((resolve, reject) => {
        socket.once('data', (d) => {
          resolve(String(d));
          socket.destroy();
        });
        socket.once('error', reject);
      });
      assert.match(await greeting(connect(relay.port, '127.0.0.1')), /^220 /, 'the plain port still greets');
      assert.match(await greeting(tlsConnect({ port: relay.tlsPort!, host: '127.0.0.1', ca, servername: 'localhost' })), /^220 /, 'the implicit-TLS port still greets');
      assert.equal(logs.lines.filter((l) => l.includes('could not accept a connection')).length, 2, 'one line per server');
    } finally {
      await relay.stop();
      await store.close();
      t.remove();
    }
  });
});
