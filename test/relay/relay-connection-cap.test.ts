/**
 * The relay's cap on connections in total (issue 14 §3: `421 4.7.0 Too many connections`), end
 * to end: the real service with MAILGATE_RELAY_MAX_CONNECTIONS=3 (the per-address cap left at 20,
 * so it cannot be the reason), real sockets, the emulator behind it. The connection over the cap
 * comes from another loopback address (127.0.0.2) that has no connection yet, so only the total
 * cap can refuse it. The open sessions keep working, and a slot freed is usable again.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../service/helpers.js';
import { RawSmtpClient } from '../helpers/emulator-client.js';
import { dataOf, deviceMessage, startRelayPair, type RelayPair } from './relay-helpers.js';

/** A connection from `localAddress`; resolves with everything the server sent before it closed. */
function connectFrom(port: number, localAddress: string): Promise<{ socket: Socket; received: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress }, () => {
      socket.off('error', reject);
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
      const received = new Promise<string>((done) => socket.once('close', () => done(text)));
      socket.on('error', () => undefined);
      resolve({ socket, received });
    });
    socket.once('error', reject);
  });
}

describe('SMTP relay: the total connection cap', () => {
  let p: RelayPair;
  before(async () => {
    p = await startRelayPair({ MAILGATE_RELAY_MAX_CONNECTIONS: '3', MAILGATE_RELAY_MAX_CONNECTIONS_PER_ADDRESS: '20' });
  });
  after(async () => {
    await p?.stop();
  });

  it('the connection over the total cap gets 421 4.7.0 and is closed; open sessions still deliver; a freed slot is usable', async () => {
    const cred = await p.client({ name: 'cap-device' });
    const open: RawSmtpClient[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await RawSmtpClient.connect(p.relayPort);
      assert.match(await c.readReply(), /^220 /);
      open.push(c);
    }
    await waitFor(() => p.svc.relay!.connections() === 3, 5000, 'three connections counted');

    // From an address with no connection of its own: only the total cap applies.
    const extra = await connectFrom(p.relayPort, '127.0.0.2');
    assert.equal((await extra.received).trim(), '421 4.7.0 Too many connections', 'refused with the pinned reply, then closed');

    // A session that was open before keeps working end to end.
    const first = open[0]!;
    await first.send('EHLO printer.local');
    assert.match(await first.startTls(p.relayCa), /^220 /);
    await first.send('EHLO printer.local');
    assert.match(await first.send(`AUTH PLAIN ${Buffer.from(`\0${cred.username}\0${cred.password}`).toString('base64')}`), /^235 /);
    const from = p.tenant.authorizedFrom;
    assert.equal(await first.send(`MAIL FROM:<${from}>`), '250 2.1.0 Sender OK');
    assert.equal(await first.send('RCPT TO:<cap@example.com>'), '250 2.1.5 Recipient OK');
    assert.equal(await first.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    first.write(dataOf(deviceMessage({ from, to: 'cap@example.com', subject: 'under the cap' })));
    const id = /^250 2\.0\.0 Ok: queued as (\S+)$/.exec(await first.readReply())?.[1];
    assert.ok(id, 'queued');
    await p.waitForStatus([id], 'sent');
    assert.ok(p.emulator.messages().some((m) => m.subject === 'under the cap'), 'delivered to the mailbox');

    // Closing one frees its slot: the next connection (from the other address again) is greeted.
    open.pop()!.close();
    await waitFor(() => p.svc.relay!.connections() === 2, 5000, 'one closed');
    const again = await connectFrom(p.relayPort, '127.0.0.2');
    const greeting = await new Promise<string>((resolve) => again.socket.once('data', (d: Buffer) => resolve(d.toString('utf8'))));
    assert.match(greeting, /^220 /);
    again.socket.destroy();
    for (const c of open) c.close();
    await waitFor(() => p.svc.relay!.connections() === 0, 5000, 'all closed');
  });
});
