/**
 * A small local HTTPS server that answers like Graph's sendMail, for the transport's tests
 * before (and besides) the emulator: each request is recorded (method, path, headers, body)
 * and answered by the test's handler; the number in flight is tracked.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEmulatorPki } from '../../src/emulator/pki.js';

export interface SinkRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export type SinkHandler = (req: SinkRequest, res: ServerResponse, n: number) => void | Promise<void>;

export interface GraphSink {
  endpoint: string;
  ca: string;
  requests: SinkRequest[];
  inFlight: number;
  peakInFlight: number;
  handler: SinkHandler;
  close(): Promise<void>;
}

export const accept202: SinkHandler = (_req, res) => {
  res.writeHead(202, { 'request-id': '5e4d3c2b-1a09-4f8e-9d7c-6b5a49382716', 'client-request-id': String(_req.headers['client-request-id'] ?? '') });
  res.end();
};

export function answerJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

export async function startGraphSink(handler: SinkHandler = accept202): Promise<GraphSink> {
  const pki = await createEmulatorPki();
  const sink: GraphSink = {
    endpoint: '',
    ca: pki.caPem,
    requests: [],
    inFlight: 0,
    peakInFlight: 0,
    handler,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
  const server = https.createServer({ key: pki.serverKeyPem, cert: pki.serverCertPem }, (req, res) => {
    const chunks: Buffer[] = [];
    sink.inFlight++;
    sink.peakInFlight = Math.max(sink.peakInFlight, sink.inFlight);
    res.on('close', () => { sink.inFlight--; });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: SinkRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      sink.requests.push(r);
      void sink.handler(r, res, sink.requests.length);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  sink.endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return sink;
}
