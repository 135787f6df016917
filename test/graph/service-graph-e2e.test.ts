/**
 * The service end to end with Transport graph against the emulator's Graph (issue 15 item 5):
 * the HTTP API, the outbox, the worker in the delivery thread and the same Mailer port, with
 * the Graph transport behind it. Success (every message once, marked graph at the emulator,
 * at most 4 requests in flight, one token: Graph's), and a 403 diagnosed from the token's roles.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeTokenClaims } from '../../src/auth/jwt-claims.js';
import { startPair, type Pair } from '../service/e2e-helpers.js';

async function withPair(o: Parameters<typeof startPair>[0], fn: (p: Pair) => Promise<void>): Promise<void> {
  const p = await startPair(o);
  try {
    await fn(p);
  } finally {
    await p.stop();
  }
}

const graphEnv = (e: { graph: string }) => ({ MAILGATE_TRANSPORT: 'graph', MAILGATE_GRAPH_ENDPOINT: e.graph });

describe('the service with Transport graph, against the emulator', () => {
  it('delivers 40 messages by Graph: each once, at most 4 requests in flight, one Graph token and no Outlook token', async () => {
    await withPair({ env: graphEnv }, async (p) => {
      const accepted = await p.submit(40);
      await p.waitForStatus(accepted.map((a) => a.id), 'sent', 30_000);
      const received = p.emulator.messages();
      assert.equal(received.length, 40);
      assert.ok(received.every((m) => m.transport === 'graph'));
      assert.deepEqual(new Set(received.map((m) => m.messageId)), new Set(accepted.map((a) => a.messageId)));
      const stats = p.emulator.stats();
      const peak = Math.max(...Object.values(stats.peakGraphConcurrentRequests));
      assert.ok(peak >= 1 && peak <= 4, `peak concurrent Graph requests ${peak}`);
      assert.equal(stats.tokenRequests, 1);
      assert.equal(p.issuedTokens.length, 1);
      assert.match(String(decodeTokenClaims(p.issuedTokens[0]!)?.aud), /graph\.microsoft\.com|00000003-0000-0000-c000-000000000000/);
      assert.equal(stats.smtpConnections ?? 0, 0);
      const one = await p.api('GET', `/api/v1/messages/${accepted[0]!.id}`);
      assert.equal(one.json.status, 'sent');
      assert.match(one.json.response, /^202 Accepted request-id=[0-9a-f-]+ client-request-id=[0-9a-f-]{36}$/);
      for (const body of p.responses) assert.ok(!body.includes(p.issuedTokens[0]!), 'no token in an API response');
    });
  });

  it('a token without Mail.Send: the message fails at once (not retried) with GRAPH_AUTH_FAILED and the Mail.Send diagnosis; nothing is delivered', async () => {
    await withPair({ tenant: { domain: 'nomailsend.onmicrosoft.com', consentedRoles: ['SMTP.SendAsApp'] }, env: graphEnv }, async (p) => {
      const [m] = await p.submit(1);
      await p.waitForStatus([m!.id], 'failed', 20_000);
      const one = await p.api('GET', `/api/v1/messages/${m!.id}`);
      assert.equal(one.json.attempts.length, 1);
      const attempt = one.json.attempts[0];
      assert.equal(attempt.code, 'GRAPH_AUTH_FAILED');
      assert.match(attempt.reply, /^HTTP 403 ErrorAccessDenied/);
      assert.equal(attempt.diagnosis.id, 'graph-403-no-mail-send');
      assert.match(attempt.diagnosis.fixes.join(' '), /Application permissions → Mail\.Send/);
      assert.equal(p.emulator.messages().length, 0);
    });
  });
});

describe('the service with Transport auto, against the emulator', () => {
  it('SMTP AUTH disabled for the mailbox: every message goes by Graph, once; the switch is counted in /metrics with its reason', async () => {
    await withPair({ tenant: { domain: 'autoroute.onmicrosoft.com', mailboxSmtpAuthDisabled: true }, env: (e) => ({ MAILGATE_TRANSPORT: 'auto', MAILGATE_GRAPH_ENDPOINT: e.graph }) }, async (p) => {
      const accepted = await p.submit(20);
      await p.waitForStatus(accepted.map((a) => a.id), 'sent', 30_000);
      const received = p.emulator.messages();
      assert.equal(received.length, 20, 'zero lost');
      assert.equal(new Set(received.map((m) => m.messageId)).size, 20, 'zero duplicates');
      assert.ok(received.every((m) => m.transport === 'graph'));
      const metrics = await fetch(`${p.svc.url}/metrics`).then((r) => r.text());
      const n = Number(/mailgate_transport_switches_total\{from="smtp",to="graph",reason="smtp-auth-disabled"\} (\d+)/.exec(metrics)?.[1]);
      assert.ok(n >= 1, metrics);
    });
  });
});
