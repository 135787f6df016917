/**
 * The Graph transport against a local HTTPS server that answers like Graph (issue 15 item 2):
 * the request (URL, headers, base64 MIME body), 202 with request-id, the same MIME as the SMTP
 * path, at most 4 requests in flight, Retry-After, one fresh token after 401, the 4 MB limit,
 * and what a network failure means (nothing sent, or outcome unknown).
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { MailgateError, isMailgateError } from '../../src/core/errors.js';
import { diagnose } from '../../src/core/diagnosis/index.js';
import { classifyForRetry } from '../../src/core/retry-policy.js';
import { parseSettings } from '../../src/core/settings.js';
import type { AccessToken, TokenProvider } from '../../src/core/ports.js';
import { createMailer } from '../../src/mailer.js';
import { composeMessage } from '../../src/transport/compose-message.js';
import { GraphGate } from '../../src/transport/graph/graph-gate.js';
import { GraphTransport, type GraphAuthenticator } from '../../src/transport/graph/graph-transport.js';
import { accept202, answerJson, startGraphSink, type GraphSink } from './graph-sink.js';

const MAILBOX = 'noreply@contoso.com';
const CLIENT = '11111111-2222-3333-4444-555555555555';

function jwt(claims: Record<string, unknown>): string {
  const b = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b({ alg: 'none', typ: 'JWT' })}.${b(claims)}.sig`;
}
const GRAPH_TOKEN = jwt({ aud: 'https://graph.microsoft.com', oid: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d', roles: ['Mail.Send'] });

function auth(): GraphAuthenticator & { calls: boolean[] } {
  const calls: boolean[] = [];
  return { calls, token: async (fresh) => { calls.push(fresh); return fresh ? `${GRAPH_TOKEN}x` : GRAPH_TOKEN; } };
}

let sink: GraphSink;
before(async () => { sink = await startGraphSink(); });
after(async () => { await sink.close(); });
beforeEach(() => { sink.requests.length = 0; sink.handler = accept202; sink.peakInFlight = 0; });

function transport(a = auth(), extra: Partial<ConstructorParameters<typeof GraphTransport>[0]> = {}) {
  return new GraphTransport({ endpoint: sink.endpoint, mailbox: MAILBOX, clientId: CLIENT, ca: sink.ca, gate: new GraphGate(), ...extra }, a);
}

describe('Graph transport: the request', () => {
  it('POSTs the MIME message base64 as text/plain to /v1.0/users/{mailbox}/sendMail with our client-request-id; 202 is the result', async () => {
    const composed = await composeMessage({ to: ['a@example.com'], subject: 'Hello', text: 'Body' }, MAILBOX);
    const r = await transport().send({ raw: composed.raw, messageId: composed.messageId, recipients: ['a@example.com'] });
    assert.equal(sink.requests.length, 1);
    const req = sink.requests[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/v1.0/users/noreply%40contoso.com/sendMail');
    assert.equal(req.headers['content-type'], 'text/plain');
    assert.equal(req.headers.authorization, `Bearer ${GRAPH_TOKEN}`);
    assert.match(String(req.headers['client-request-id']), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(Buffer.from(req.body.toString('latin1'), 'base64'), composed.raw);
    assert.equal(r.transport, 'graph');
    assert.equal(r.requestId, '5e4d3c2b-1a09-4f8e-9d7c-6b5a49382716');
    assert.equal(r.clientRequestId, req.headers['client-request-id']);
    assert.match(r.response, /^202 Accepted request-id=5e4d3c2b-1a09-4f8e-9d7c-6b5a49382716 client-request-id=/);
    assert.equal(r.messageId, composed.messageId);
    assert.deepEqual(r.accepted, ['a@example.com']);
  });

  it('through createMailer (Transport graph): the same Message-ID and attachment bytes as the SMTP composer, Bcc kept for Graph, the Graph token only', async () => {
    const settings = parseSettings({ clientId: CLIENT, tenantId: 'contoso.onmicrosoft.com', clientSecret: 's~x', authorizedFrom: MAILBOX, transport: 'graph', graphEndpoint: sink.endpoint });
    assert.ok(settings.ok);
    const asked: string[] = [];
    const provider = fakeProvider(asked);
    const mailer = createMailer(settings.settings, { ca: sink.ca, tokenProvider: provider });
    const attachment = { filename: 'report.pdf', contentType: 'application/pdf', content: Buffer.from('%PDF-1.7 fake report '.repeat(50)) };
    const message = { to: ['a@example.com'], bcc: ['hidden@example.com'], subject: 'Report', text: 'See attached.', attachments: [attachment], messageId: '<fixed-1@contoso.com>' };
    const r = await mailer.send(message);
    assert.equal(r.transport, 'graph');
    assert.equal(r.messageId, '<fixed-1@contoso.com>');
    const mime = Buffer.from(sink.requests[0]!.body.toString('latin1'), 'base64').toString('latin1');
    const smtp = (await composeMessage(message, MAILBOX)).raw.toString('latin1');
    assert.match(mime, /^Message-ID: <fixed-1@contoso\.com>$/m);
    assert.match(smtp, /^Message-ID: <fixed-1@contoso\.com>$/m);
    const b64 = attachment.content.toString('base64').slice(0, 76);
    assert.ok(mime.includes(b64) && smtp.includes(b64), 'the attachment is encoded the same way');
    assert.match(mime, /^Bcc: hidden@example\.com$/m, 'Graph reads Bcc recipients from the MIME');
    assert.doesNotMatch(smtp, /^Bcc:/m, 'SMTP keeps Bcc in the envelope only');
    assert.deepEqual(r.accepted.sort(), ['a@example.com', 'hidden@example.com']);
    assert.deepEqual(asked, ['https://graph.microsoft.com/.default'], 'only the Graph resource was asked for');
    assert.equal(sink.requests[0]!.headers.authorization, `Bearer ${GRAPH_TOKEN}`);
    await mailer.close();
  });

  it('refuses to send a token whose audience is Exchange Online to Graph (nothing reaches the server)', async () => {
    const settings = parseSettings({ clientId: CLIENT, tenantId: 'contoso.onmicrosoft.com', clientSecret: 's~x', authorizedFrom: MAILBOX, transport: 'graph', graphEndpoint: sink.endpoint, graphScope: 'https://outlook.office365.com/.default' });
    assert.ok(settings.ok);
    const outlook = jwt({ aud: 'https://outlook.office365.com', roles: ['SMTP.SendAsApp'] });
    const mailer = createMailer(settings.settings, { ca: sink.ca, tokenProvider: fakeProvider([], outlook) });
    await assert.rejects(mailer.send({ to: ['a@example.com'], subject: 'x', text: 'y' }), (e: unknown) => isMailgateError(e) && e.code === 'SETTINGS_INVALID' && /Exchange Online/.test(e.message) && !e.message.includes(outlook));
    assert.equal(sink.requests.length, 0);
  });
});

function fakeProvider(asked: string[], tokenFor?: string): TokenProvider {
  const entry = (scope: string): TokenProvider => ({
    requestCount: 0,
    invalidate() {},
    async getToken(): Promise<AccessToken> {
      asked.push(scope);
      return { token: tokenFor ?? GRAPH_TOKEN, expiresAt: Date.now() + 3600_000 };
    },
  });
  return { ...entry('https://outlook.office365.com/.default'), forResource: (scope: string) => entry(scope) };
}

describe('Graph transport: limits', () => {
  it('never more than 4 requests in flight for one app and mailbox', async () => {
    const held: (() => void)[] = [];
    sink.handler = (req, res) => { held.push(() => accept202(req, res, 0)); if (held.length >= 4) setImmediate(() => held.splice(0).forEach((f) => f())); };
    const t = transport();
    const raw = Buffer.from('Subject: x\r\n\r\nbody\r\n');
    const sends = Array.from({ length: 10 }, (_, i) => t.send({ raw, messageId: `<m${i}@x>`, recipients: ['a@example.com'] }));
    // The last two arrive when fewer than 4 are held: release whatever is left as each send settles.
    const timer = setInterval(() => held.splice(0).forEach((f) => f()), 20);
    try {
      const results = await Promise.all(sends);
      assert.equal(results.length, 10);
    } finally {
      clearInterval(timer);
    }
    assert.equal(sink.requests.length, 10);
    assert.ok(sink.peakInFlight <= 4, `peak ${sink.peakInFlight}`);
    assert.equal(t.peakConcurrent, 4);
  });

  it('429 with Retry-After: the message fails as transient with that delay, and later sends are held, not sent, while it runs', async () => {
    sink.handler = (_req, res) => answerJson(res, 429, { error: { code: 'ApplicationThrottled', message: 'Application is over its MailboxConcurrency limit.' } }, { 'retry-after': '120' });
    const t = transport(auth(), { maxRetryAfterWaitMs: 1000 });
    const raw = Buffer.from('Subject: x\r\n\r\nbody\r\n');
    const first = await t.send({ raw, messageId: '<a@x>', recipients: ['a@example.com'] }).catch((e: unknown) => e);
    assert.ok(first instanceof MailgateError);
    assert.equal(first.code, 'GRAPH_TRANSIENT');
    assert.equal(first.graph?.retryAfterSeconds, 120);
    const decision = classifyForRetry(first);
    assert.equal(decision.retryable, true);
    assert.equal(decision.minDelayMs, 120_000);
    assert.equal(sink.requests.length, 1);
    sink.handler = accept202;
    const second = await t.send({ raw, messageId: '<b@x>', recipients: ['a@example.com'] }).catch((e: unknown) => e);
    assert.ok(second instanceof MailgateError);
    assert.equal(second.code, 'GRAPH_TRANSIENT');
    assert.equal(second.context.notSent, true);
    assert.equal(sink.requests.length, 1, 'nothing was sent while Retry-After runs');
  });

  it('a 401 gets one fresh token and one more try', async () => {
    sink.handler = (req, res, n) => (n === 1 ? answerJson(res, 401, { error: { code: 'InvalidAuthenticationToken', message: 'Lifetime validation failed, the token is expired.' } }) : accept202(req, res, n));
    const a = auth();
    const r = await transport(a).send({ raw: Buffer.from('Subject: x\r\n\r\nb\r\n'), messageId: '<c@x>', recipients: ['a@example.com'] });
    assert.equal(r.transport, 'graph');
    assert.deepEqual(a.calls, [false, true]);
    assert.equal(sink.requests[1]!.headers.authorization, `Bearer ${GRAPH_TOKEN}x`);
  });

  it('a message over the 4 MB request limit is not sent; the diagnosis names SMTP/Automatic and the upload session (Mail.ReadWrite)', async () => {
    const raw = Buffer.alloc(3_200_000, 0x61);
    const e = await transport().send({ raw, messageId: '<big@x>', recipients: ['a@example.com'] }).catch((x: unknown) => x);
    assert.ok(e instanceof MailgateError);
    assert.equal(e.code, 'GRAPH_TOO_LARGE');
    assert.equal(e.retryable, false);
    assert.equal(sink.requests.length, 0);
    const d = diagnose(e);
    assert.equal(d.id, 'graph-message-too-large');
    const fixes = d.fixes.join(' ');
    assert.match(fixes, /Transport to smtp/);
    assert.match(fixes, /auto/);
    assert.match(fixes, /Mail\.ReadWrite/);
    assert.match(fixes, /upload session/);
  });
});

describe('Graph transport: no answer', () => {
  it('the endpoint refuses connections: GRAPH_UNREACHABLE, nothing sent, retryable', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const e = await transport(auth(), { endpoint: `https://127.0.0.1:${port}` }).send({ raw: Buffer.from('x'), messageId: '<d@x>', recipients: [] }).catch((x: unknown) => x);
    assert.ok(e instanceof MailgateError);
    assert.equal(e.code, 'GRAPH_UNREACHABLE');
    assert.equal(e.context.notSent, true);
    assert.equal(e.retryable, true);
    assert.equal(diagnose(e).id, 'graph-unreachable');
  });

  it('the connection drops after the request: GRAPH_OUTCOME_UNKNOWN (retried on the same transport)', async () => {
    sink.handler = (_req, res) => { res.socket?.destroy(); };
    const e = await transport().send({ raw: Buffer.from('Subject: x\r\n\r\nb\r\n'), messageId: '<e@x>', recipients: [] }).catch((x: unknown) => x);
    assert.ok(e instanceof MailgateError);
    assert.equal(e.code, 'GRAPH_OUTCOME_UNKNOWN');
    assert.notEqual(e.context.notSent, true);
    assert.equal(e.retryable, true);
    assert.equal(diagnose(e).id, 'graph-outcome-unknown');
    assert.equal(sink.requests.length, 1);
  });

  it('an untrusted certificate: GRAPH_UNREACHABLE, not retried, TLS diagnosis', async () => {
    const e = await transport(auth(), { ca: undefined }).send({ raw: Buffer.from('x'), messageId: '<f@x>', recipients: [] }).catch((x: unknown) => x);
    assert.ok(e instanceof MailgateError);
    assert.equal(e.code, 'GRAPH_UNREACHABLE');
    assert.equal(e.retryable, false);
    assert.equal(diagnose(e).id, 'graph-tls');
    assert.equal(sink.requests.length, 0);
  });
});
