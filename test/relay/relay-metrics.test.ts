/**
 * The relay's metrics (issue 14): mailgate_relay_connections, mailgate_relay_auth_failures_total
 * and mailgate_relay_messages_total{client,outcome}, as GET /metrics shows them: the listener's
 * counts since start plus each client's stored sent/failed counters.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startService, type RunningService } from '../../src/app/service.js';
import { createLogger } from '../../src/log/logger.js';
import { createRelayClient } from '../../src/service/access/relay-clients.js';
import { RelayMetrics } from '../../src/service/relay-metrics.js';
import { FakeMailer, LineCapture, tempDir } from '../service/helpers.js';

describe('RelayMetrics', () => {
  it('counts connections (never below 0), AUTH failures, and messages per client and outcome', () => {
    const m = new RelayMetrics();
    m.connectionOpened();
    m.connectionOpened();
    m.connectionClosed();
    m.connectionClosed();
    m.connectionClosed();
    m.connectionOpened();
    m.authFailure();
    m.authFailure();
    m.message('scanner', 'accepted');
    m.message('scanner', 'accepted');
    m.message('scanner', 'rejected');
    m.message('evil"} 1\nx', 'rejected');
    const text = m.render([{ name: 'scanner', messagesSent: 5, messagesFailed: 1 }, { name: 'idle', messagesSent: 0, messagesFailed: 0 }]).join('\n');
    assert.match(text, /^# TYPE mailgate_relay_connections gauge\nmailgate_relay_connections 1$/m);
    assert.match(text, /^mailgate_relay_auth_failures_total 2$/m);
    assert.match(text, /^mailgate_relay_messages_total\{client="scanner",outcome="accepted"\} 2$/m);
    assert.match(text, /^mailgate_relay_messages_total\{client="scanner",outcome="rejected"\} 1$/m);
    assert.match(text, /^mailgate_relay_messages_total\{client="scanner",outcome="sent"\} 5$/m);
    assert.match(text, /^mailgate_relay_messages_total\{client="scanner",outcome="failed"\} 1$/m);
    assert.match(text, /^mailgate_relay_messages_total\{client="idle",outcome="sent"\} 0$/m);
    // A label value that is not a client name is never written out as is.
    assert.match(text, /^mailgate_relay_messages_total\{client="",outcome="rejected"\} 1$/m);
    assert.ok(!text.includes('evil'));
  });

  it('a name reused after a revocation is one series, the sum', () => {
    const text = new RelayMetrics().render([{ name: 'mfp', messagesSent: 3, messagesFailed: 1 }, { name: 'mfp', messagesSent: 2, messagesFailed: 0 }]).join('\n');
    assert.match(text, /client="mfp",outcome="sent"\} 5$/m);
    assert.equal(text.match(/client="mfp",outcome="sent"/g)?.length, 1);
  });
});

describe('GET /metrics with relay clients', () => {
  let svc: RunningService;
  const t = tempDir('mg-relay-metrics-');
  before(async () => {
    const mailer = new FakeMailer();
    svc = await startService({
      env: { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') },
      listen: false,
      worker: false,
      logger: createLogger({ destination: new LineCapture(), level: 'warn' }),
      createMailer: () => Object.assign(mailer, { stats: { peakConnections: 0, connectionsOpened: 0, openConnections: 0 } }),
    });
  });
  after(async () => {
    await svc.stop();
    t.remove();
  });

  it('shows the three relay metrics, with a series per client', async () => {
    await createRelayClient(svc.store, { name: 'printer-1' }, { now: Date.now(), actor: 'test' });
    svc.deps.metrics.relay.connectionOpened();
    svc.deps.metrics.relay.authFailure();
    svc.deps.metrics.relay.message('printer-1', 'accepted');
    const r = await svc.app.request('/metrics');
    assert.equal(r.status, 200);
    const text = await r.text();
    assert.match(text, /^mailgate_relay_connections 1$/m);
    assert.match(text, /^mailgate_relay_auth_failures_total 1$/m);
    assert.match(text, /^mailgate_relay_messages_total\{client="printer-1",outcome="accepted"\} 1$/m);
    assert.match(text, /^mailgate_relay_messages_total\{client="printer-1",outcome="failed"\} 0$/m);
  });
});
