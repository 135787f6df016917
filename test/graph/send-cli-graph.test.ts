/**
 * `mailgate send --json` with Transport graph (issue 15 item 5), as a child process: a real
 * Graph token from the emulator's token endpoint, sendMail answered by a local HTTPS server that
 * answers like Graph. The JSON keeps its shape and adds `"transport"`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeTokenClaims } from '../../src/auth/jwt-claims.js';
import { runCli, singleJson } from '../helpers/cli.js';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';
import { accept202, answerJson, startGraphSink, type GraphSink } from './graph-sink.js';

const tenants = useEmulatedTenants();
let sink: GraphSink;
let caFile: string;
before(async () => {
  sink = await startGraphSink();
  caFile = join(mkdtempSync(join(tmpdir(), 'mailgate-graph-cli-')), 'ca.pem');
});
after(async () => { await sink.close(); });

const SEND = ['send', '--to', 'someone@example.com', '--subject', 'Password reset', '--text', 'Your code is 123456', '--json'];

function graphEnv(extra: Record<string, string> = {}) {
  const t = tenants.tenant();
  // Both CAs: the emulator's (token endpoint) and the sink's (Graph).
  writeFileSync(caFile, `${tenants.emu.caPem}\n${sink.ca}\n`);
  return { t, env: tenants.envFor(t, { MAILGATE_TRANSPORT: 'graph', MAILGATE_GRAPH_ENDPOINT: sink.endpoint, NODE_EXTRA_CA_CERTS: caFile, ...extra }) };
}

describe('mailgate send --json, Transport graph', () => {
  it('success: {"ok":true,"messageId","response","transport":"graph"}; Graph got a Graph-audience token and the MIME', async () => {
    sink.handler = accept202;
    sink.requests.length = 0;
    const { env } = graphEnv();
    const r = await runCli(SEND, env);
    assert.equal(r.code, 0, r.stderr);
    const j = singleJson(r.stdout);
    assert.deepEqual(Object.keys(j).sort(), ['messageId', 'ok', 'response', 'transport']);
    assert.equal(j.ok, true);
    assert.equal(j.transport, 'graph');
    assert.match(j.response, /^202 Accepted request-id=/);
    assert.equal(sink.requests.length, 1);
    const token = String(sink.requests[0]!.headers.authorization).replace(/^Bearer /, '');
    const claims = decodeTokenClaims(token);
    assert.match(String(claims?.aud), /graph\.microsoft\.com|00000003-0000-0000-c000-000000000000/);
    const mime = Buffer.from(sink.requests[0]!.body.toString('latin1'), 'base64').toString('utf8');
    assert.ok(mime.includes(`Message-ID: ${j.messageId}`));
    assert.ok(!r.stdout.includes(token) && !r.stderr.includes(token), 'the token is never printed');
  });

  it('403 ErrorAccessDenied: {"ok":false,"transport":"graph","error":{code,reply,diagnosis}} with the real oid in the commands', async () => {
    sink.handler = (_req, res) => answerJson(res, 403, { error: { code: 'ErrorAccessDenied', message: 'Access is denied. Check credentials and try again.' } });
    const { t, env } = graphEnv();
    const r = await runCli(SEND, env);
    assert.equal(r.code, 1);
    const j = singleJson(r.stdout);
    assert.equal(j.ok, false);
    assert.equal(j.transport, 'graph');
    assert.equal(j.error.code, 'GRAPH_AUTH_FAILED');
    assert.equal(j.error.reply, 'HTTP 403 ErrorAccessDenied: Access is denied. Check credentials and try again.');
    assert.match(j.error.diagnosis.id, /^graph-403-/);
    if (j.error.diagnosis.id !== 'graph-403-no-mail-send') assert.ok(JSON.stringify(j.error.diagnosis.commands).includes(`-Identity ${t.servicePrincipalObjectId} -Resource ${t.authorizedFrom}`));
  });

  it('Transport smtp (the default) reports "transport":"smtp"', async () => {
    const t = tenants.tenant();
    const r = await runCli(SEND, tenants.envFor(t));
    assert.equal(r.code, 0, r.stderr);
    const j = singleJson(r.stdout);
    assert.equal(j.transport, 'smtp');
    assert.match(j.response, /^250 /);
  });
});
