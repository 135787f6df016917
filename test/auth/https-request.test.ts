/**
 * The token request's HTTPS client (MSAL's network module here) against real local HTTPS
 * servers that misbehave: one streams an endless body, one declares a huge Content-Length, one
 * trickles a byte at a time so the idle timeout never fires. The body is capped at 1 MB and the
 * request has an overall deadline (before: unbounded memory, and a request that never ended).
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { requestEntraToken } from '../../src/auth/entra-token-source.js';
import { httpsRequest, MAX_RESPONSE_BYTES } from '../../src/auth/https-request.js';
import { MailgateError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import { createEmulatorPki } from '../../src/emulator/pki.js';

type Mode = 'ok' | 'endless' | 'declared' | 'trickle';

describe('httpsRequest: response size cap and overall deadline', () => {
  let server: https.Server;
  let base: string;
  let ca: string;
  let mode: Mode = 'ok';
  /** Bytes the misbehaving server managed to write, and whether the client hung up. */
  const sent = { bytes: 0, closed: 0 };
  const timers = new Set<NodeJS.Timeout>();

  before(async () => {
    const pki = await createEmulatorPki();
    ca = pki.caPem;
    server = https.createServer({ key: pki.serverKeyPem, cert: pki.serverCertPem }, (req, res) => {
      req.resume();
      res.on('close', () => sent.closed++);
      if (mode === 'ok') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token_type: 'Bearer', expires_in: 3599, access_token: 'x'.repeat(2000) }));
      } else if (mode === 'endless') {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const pump = () => {
          while (!res.destroyed) {
            sent.bytes += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
        };
        pump();
      } else if (mode === 'declared') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(500 * 1024 * 1024) });
        res.write('{');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write(' ')), 50);
        timers.add(t);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const t of timers) clearInterval(t);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('reads a normal answer', async () => {
    mode = 'ok';
    const r = await httpsRequest(`${base}/t`, { method: 'POST', body: 'a=b', ca });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).expires_in, 3599);
  });

  it('stops reading an endless body past 1 MB and closes the connection', { timeout: 30_000 }, async () => {
    mode = 'endless';
    sent.bytes = 0;
    const closedBefore = sent.closed;
    await assert.rejects(httpsRequest(`${base}/t`, { method: 'POST', body: 'a=b', ca }), (e: NodeJS.ErrnoException) => {
      assert.equal(e.code, 'ERESPONSETOOLARGE');
      assert.match(e.message, new RegExp(`larger than ${MAX_RESPONSE_BYTES} bytes`));
      return true;
    });
    // The server sees the client hang up; what it wrote is bounded by the cap plus socket buffers.
    const deadline = Date.now() + 10_000;
    while (sent.closed === closedBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(sent.closed > closedBefore, 'the client closed the connection');
    assert.ok(sent.bytes < 32 * 1024 * 1024, `server wrote ${sent.bytes} bytes`);
  });

  it('refuses a declared Content-Length over the cap without waiting for the body', { timeout: 30_000 }, async () => {
    mode = 'declared';
    await assert.rejects(httpsRequest(`${base}/t`, { method: 'POST', body: 'a=b', ca, timeoutMs: 20_000 }), { code: 'ERESPONSETOOLARGE' });
  });

  it('gives up on a server that trickles bytes (idle timeout never fires) at the deadline', { timeout: 30_000 }, async () => {
    mode = 'trickle';
    await assert.rejects(httpsRequest(`${base}/t`, { method: 'POST', body: 'a=b', ca, timeoutMs: 1000, deadlineMs: 1500 }), (e: NodeJS.ErrnoException) => {
      assert.equal(e.code, 'ETIMEDOUT');
      assert.match(e.message, /did not complete within 2 s/);
      return true;
    });
    // Without deadlineMs, the idle timeout is also the overall deadline.
    await assert.rejects(httpsRequest(`${base}/t`, { method: 'POST', body: 'a=b', ca, timeoutMs: 1000 }), /did not complete within 1 s/);
  });

  it('through MSAL: a huge token response is TOKEN_UNAVAILABLE naming the cap, a trickling one times out', { timeout: 60_000 }, async () => {
    const cfg = {
      authorityHost: base,
      tenantId: '66666666-7777-8888-9999-000000000000',
      clientId: '11111111-2222-3333-4444-555555555555',
      scope: 'https://outlook.office365.com/.default',
      clientSecret: new Secret('Xy7~topsecret.value-abc123'),
      ca,
      timeoutMs: 1500,
    };
    mode = 'endless';
    await assert.rejects(requestEntraToken(cfg), (e: unknown) => {
      assert.ok(e instanceof MailgateError);
      assert.equal(e.code, 'TOKEN_UNAVAILABLE');
      assert.match(e.message, /larger than 1048576 bytes.*ERESPONSETOOLARGE/);
      return true;
    });
    mode = 'trickle';
    await assert.rejects(requestEntraToken(cfg), (e: unknown) => {
      assert.ok(e instanceof MailgateError);
      assert.equal(e.code, 'TOKEN_UNAVAILABLE');
      assert.match(e.message, /did not complete within/);
      return true;
    });
  });
});
