/**
 * A listening server's later errors (src/net/server-errors.ts): Node emits 'error' on a server
 * whose accept fails (EMFILE/ENFILE once libuv's reserve descriptor is spent, ENOBUFS), and with
 * nobody listening that ended the process. The HTTP API and the relay held only a `once` for
 * their start, so the second such error was fatal. Asserted on a real listening server: errors
 * the way Node's accept path emits them leave it accepting, and the reports are limited.
 */
import assert from 'node:assert/strict';
import { createServer, connect, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { holdServerErrors, refuseUntilListening, type AcceptErrorReport } from '../../src/net/server-errors.js';

const acceptError = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`accept ${code}`), { code, errno: -24, syscall: 'accept' });

describe('holdServerErrors', () => {
  it('keeps a listening server accepting through repeated accept errors, and reports them at most once per interval', async () => {
    const server = createServer((s) => s.end('220 still here\r\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    let t = 1_000;
    const reports: AcceptErrorReport[] = [];
    holdServerErrors(server, (r) => reports.push(r), 10_000, () => t);
    try {
      // What Node's onconnection does when accept fails: server.emit('error', errnoException(err, 'accept')).
      for (let i = 0; i < 5; i++) server.emit('error', acceptError('EMFILE'));
      t += 10_000;
      server.emit('error', acceptError('ENFILE'));
      assert.equal(reports.length, 2, 'one report, then the next only after the interval');
      assert.equal(reports[0]!.error.code, 'EMFILE');
      assert.equal(reports[0]!.suppressed, 0);
      assert.equal(reports[1]!.error.code, 'ENFILE');
      assert.equal(reports[1]!.suppressed, 4, 'the four left out are counted in the next report');
      const port = (server.address() as AddressInfo).port;
      const greeting = await new Promise<string>((resolve, reject) => {
        const c = connect(port, '127.0.0.1');
        let got = '';
        c.on('data', (d) => (got += String(d)));
        c.on('end', () => resolve(got));
        c.on('error', reject);
      });
      assert.equal(greeting, '220 still here\r\n', 'the server still accepts connections');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a report that throws does not make the error fatal', () => {
    const server = createServer();
    holdServerErrors(server, () => {
      throw new Error('the logger failed');
    });
    assert.doesNotThrow(() => server.emit('error', acceptError('EMFILE')));
  });

  it('refuseUntilListening: an error before listening fails the start (EADDRINUSE); after, it is reported and the start is not failed again', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const refused: string[] = [];
      const reports: AcceptErrorReport[] = [];
      const busy = createServer();
      const listeningBusy = refuseUntilListening(busy, (e) => refused.push(String(e.code)), (r) => reports.push(r));
      await new Promise<void>((resolve) => {
        busy.once('error', () => resolve());
        busy.listen(port, '127.0.0.1', listeningBusy);
      });
      assert.deepEqual(refused, ['EADDRINUSE'], 'the start failed with the listen error');

      const ok = createServer();
      const listeningOk = refuseUntilListening(ok, (e) => refused.push(String(e.code)), (r) => reports.push(r));
      await new Promise<void>((resolve) => ok.listen(0, '127.0.0.1', () => (listeningOk(), resolve())));
      ok.emit('error', acceptError('EMFILE'));
      ok.emit('error', acceptError('EMFILE'));
      assert.deepEqual(refused, ['EADDRINUSE'], 'later errors do not reach the start');
      assert.equal(reports.length, 1, 'reported, once in the interval');
      assert.equal(ok.listenerCount('error'), 1, 'one listener left on the server');
      await new Promise((resolve) => ok.close(resolve));
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
