/**
 * The Graph error table (issue 15 item 3): one fixture per Graph answer with Graph's real JSON
 * body (test/fixtures/graph/graph-errors.json), each served by a local HTTPS server and sent
 * through the real transport: the error code, the retry decision (429/503/504 transient, other
 * 4xx permanent, Retry-After honoured) and the diagnosis row, with the administrator's ids
 * filled into the fix commands.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { MailgateError } from '../../src/core/errors.js';
import { diagnose, listDiagnosisRuleIds, type DiagnosisContext } from '../../src/core/diagnosis/index.js';
import { classifyForRetry } from '../../src/core/retry-policy.js';
import { GraphGate } from '../../src/transport/graph/graph-gate.js';
import { GraphTransport } from '../../src/transport/graph/graph-transport.js';
import { answerJson, startGraphSink, type GraphSink } from './graph-sink.js';

interface Fixture {
  name: string;
  status: number;
  headers: Record<string, string>;
  body: unknown;
  ctx?: Partial<DiagnosisContext>;
  expectCode: string;
  expectRule: string;
  expectRetryable: boolean;
  expectMinDelayMs?: number;
  source: string;
}

const FIXTURES = JSON.parse(readFileSync('test/fixtures/graph/graph-errors.json', 'utf8')) as Fixture[];
const CTX: DiagnosisContext = {
  clientId: '6731de76-14a6-49ae-97bc-6eba6914391e',
  tenantId: 'contoso.onmicrosoft.com',
  authorizedFrom: 'noreply@contoso.com',
  servicePrincipalObjectId: '0b4f2c1e-8d7a-4c3b-9e6f-5a4d3c2b1a09',
};

let sink: GraphSink;
before(async () => { sink = await startGraphSink(); });
after(async () => { await sink.close(); });

describe('Graph error table (fixtures of Graph\'s real bodies)', () => {
  for (const f of FIXTURES) {
    it(`${f.name} → ${f.expectCode}, ${f.expectRule}, ${f.expectRetryable ? 'retried' : 'not retried'}`, async () => {
      sink.handler = (_req, res) => answerJson(res, f.status, f.body, f.headers);
      const t = new GraphTransport({ endpoint: sink.endpoint, mailbox: CTX.authorizedFrom!, clientId: CTX.clientId!, ca: sink.ca, gate: new GraphGate(), maxRetryAfterWaitMs: 0 }, { token: async () => 'h.e.s' });
      const e = await t.send({ raw: Buffer.from('Subject: x\r\n\r\nb\r\n'), messageId: '<x@contoso.com>', recipients: ['a@example.com'] }).catch((x: unknown) => x);
      assert.ok(e instanceof MailgateError, String(e));
      assert.equal(e.code, f.expectCode);
      assert.equal(e.graph?.status, f.status);
      const body = f.body as { error: { code: string; message: string } };
      assert.equal(e.graph?.code, body.error.code);
      if (body.error.message) assert.equal(e.reply, `HTTP ${f.status} ${body.error.code}: ${body.error.message}`);
      assert.match(e.graph?.clientRequestId ?? '', /^[0-9a-f-]{36}$/);
      if (f.headers['request-id']) assert.equal(e.graph?.requestId, f.headers['request-id']);
      const decision = classifyForRetry(e);
      assert.equal(decision.retryable, f.expectRetryable, decision.reason);
      assert.equal(e.retryable, f.expectRetryable);
      if (f.expectMinDelayMs !== undefined) assert.equal(decision.minDelayMs, f.expectMinDelayMs);
      const d = diagnose(e, { ...CTX, ...f.ctx });
      assert.equal(d.id, f.expectRule);
      assert.ok(d.summary && d.causes.length && d.fixes.length);
      assert.ok(!JSON.stringify(d).includes('h.e.s'), 'the token never appears');
    });
  }

  it('ErrorAccessDenied\'s fix gives Test-ServicePrincipalAuthorization and the RBAC scope commands with the real ids', () => {
    const e = new MailgateError({ code: 'GRAPH_AUTH_FAILED', phase: 'auth', message: 'x', graph: { status: 403, code: 'ErrorAccessDenied', message: 'Access is denied. Check credentials and try again.' } });
    const d = diagnose(e, CTX);
    const commands = (d.commands ?? []).join('\n');
    assert.match(commands, /Test-ServicePrincipalAuthorization -Identity 0b4f2c1e-8d7a-4c3b-9e6f-5a4d3c2b1a09 -Resource noreply@contoso\.com/);
    assert.match(commands, /New-ManagementScope -Name "Mailgate sender noreply@contoso\.com" -RecipientRestrictionFilter "PrimarySmtpAddress -eq 'noreply@contoso\.com'"/);
    assert.match(commands, /New-ManagementRoleAssignment -Name "Mailgate Graph Mail\.Send" -App 0b4f2c1e-8d7a-4c3b-9e6f-5a4d3c2b1a09 -Role "Application Mail\.Send" -CustomResourceScope "Mailgate sender noreply@contoso\.com"/);
    assert.match(commands, /New-ServicePrincipal -AppId 6731de76-14a6-49ae-97bc-6eba6914391e -ObjectId 0b4f2c1e/);
    assert.match(d.fixes.join(' '), /Mail\.Send/);
  });

  it('every Graph rule is in the catalogue the doctor, API and admin page use', () => {
    const ids = new Set(listDiagnosisRuleIds());
    for (const f of FIXTURES) assert.ok(ids.has(f.expectRule), f.expectRule);
    for (const id of ['graph-message-too-large', 'graph-unreachable', 'graph-tls', 'graph-outcome-unknown']) assert.ok(ids.has(id), id);
  });
});
