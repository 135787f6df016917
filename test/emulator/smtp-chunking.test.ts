// CHUNKING (BDAT) and PIPELINING in the emulated Exchange front end, over raw sockets: the
// extensions in EHLO and how the state turns them off, BDAT's exact byte count (no dot-stuffing,
// chunks, a zero-length LAST), BDAT out of sequence (the chunk is still read, never taken for
// commands), and the round trips per message in the stats.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startEmulator, parseState, type Emulator } from '../../src/emulator/index.js';
import { fetchToken, httpsRequest, RawSmtpClient, xoauth2 } from '../helpers/emulator-client.js';

describe('CHUNKING and PIPELINING', () => {
  let emulator: Emulator;
  let token: string;
  const clients: RawSmtpClient[] = [];
  const from = () => emulator.demo!.authorizedFrom;

  before(async () => {
    emulator = await startEmulator(undefined, { limits: false });
    token = await fetchToken(emulator, emulator.demo!.tenantId, emulator.demo!.clientId, emulator.demo!.clientSecret);
  });
  after(async () => {
    for (const c of clients) c.close();
    await emulator.stop();
  });

  /** Extensions on (or as given), faults/stats/messages cleared. */
  const reset = (smtp?: { pipelining?: boolean; chunking?: boolean; smtputf8?: boolean }) => {
    const state = emulator.getState();
    delete state.smtp;
    emulator.setState(smtp ? { ...state, smtp } : state);
    emulator.clearFaults();
    emulator.resetStats();
    emulator.clearMessages();
  };

  /** An authenticated session, and the EHLO reply after STARTTLS. */
  const session = async (): Promise<{ c: RawSmtpClient; ehlo: string }> => {
    const c = await RawSmtpClient.connect(emulator.smtp.port);
    clients.push(c);
    await c.readReply();
    await c.send('EHLO client.example');
    await c.startTls(emulator.caPem);
    const ehlo = await c.send('EHLO client.example');
    assert.match(await c.send(`AUTH XOAUTH2 ${xoauth2(from(), token)}`), /^235 /);
    return { c, ehlo };
  };

  const readReplies = async (c: RawSmtpClient, n: number) => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(await c.readReply());
    return out;
  };

  test('both are offered by default, each can be turned off in the state (and through the admin API)', async () => {
    reset();
    let { ehlo } = await session();
    assert.ok(ehlo.includes('250-PIPELINING') && ehlo.includes('250-CHUNKING'), ehlo);
    reset({ chunking: false });
    ({ ehlo } = await session());
    assert.ok(ehlo.includes('250-PIPELINING') && !ehlo.includes('CHUNKING'), ehlo);
    reset({ pipelining: false });
    ({ ehlo } = await session());
    assert.ok(!ehlo.includes('PIPELINING') && ehlo.includes('250-CHUNKING'), ehlo);
    // SMTPUTF8 is offered by default too (as Exchange Online does) and can be turned off.
    reset();
    ({ ehlo } = await session());
    assert.ok(ehlo.includes('SMTPUTF8'), ehlo);
    reset({ smtputf8: false });
    ({ ehlo } = await session());
    assert.ok(!ehlo.includes('SMTPUTF8') && ehlo.includes('250-PIPELINING') && /^250[ -]CHUNKING$/m.test(ehlo), ehlo);
    // The admin API takes the same state; a wrong value is refused with its path.
    const state = { ...emulator.getState(), smtp: { pipelining: true, chunking: false } };
    const put = await httpsRequest(`${emulator.admin}/state`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(state), ca: emulator.caPem });
    assert.equal(put.status, 200, put.body);
    assert.deepEqual(emulator.getState().smtp, { pipelining: true, chunking: false });
    assert.equal(parseState({ ...state, smtp: { chunking: 'no' } }).ok, false);
    reset();
  });

  test('MAIL, RCPT, BDAT LAST and the message in one write: every reply in order, the exact bytes stored, 1 round trip', async () => {
    reset();
    const { c } = await session();
    const message = Buffer.from(`From: ${from()}\r\nSubject: t\r\n\r\n.\r\n..x\r\nno final line break`);
    c.write(Buffer.concat([Buffer.from(`MAIL FROM:<${from()}>\r\nRCPT TO:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nBDAT ${message.length} LAST\r\n`), message]));
    const replies = await readReplies(c, 4);
    assert.deepEqual(replies.slice(0, 3), ['250 2.1.0 Sender OK', '250 2.1.5 Recipient OK', '250 2.1.5 Recipient OK']);
    assert.match(replies[3]!, /^250 2\.0\.0 OK <[^>]+> \[Hostname=/);
    const stored = emulator.messages().at(-1)!;
    assert.deepEqual(stored.to, ['a@example.com', 'b@example.com']);
    assert.deepEqual(emulator.rawMessage(stored.id), message);
    assert.equal(emulator.stats().smtpTransactions, 1);
    assert.equal(emulator.stats().smtpRoundTripsLast, 1);
    // The session goes on: a NOOP after it is a command again.
    assert.match(await c.send('NOOP'), /^250 /);
  });

  test('a message in several chunks, then a zero-length BDAT LAST; a command pipelined after the chunk is read as a command', async () => {
    reset();
    const { c } = await session();
    const parts = [Buffer.from('Subject: chunks\r\n\r\nBDAT 5 LAST\r\n'), Buffer.from('RSET\r\n')];
    c.write(Buffer.concat([Buffer.from(`MAIL FROM:<${from()}>\r\nRCPT TO:<a@example.com>\r\nBDAT ${parts[0]!.length}\r\n`), parts[0]!, Buffer.from(`BDAT ${parts[1]!.length}\r\n`), parts[1]!, Buffer.from('BDAT 0 LAST\r\nNOOP\r\n')]));
    const replies = await readReplies(c, 6);
    assert.equal(replies[2], `250 2.0.0 ${parts[0]!.length} bytes received`);
    assert.equal(replies[3], `250 2.0.0 ${parts[1]!.length} bytes received`);
    assert.match(replies[4]!, /^250 2\.0\.0 OK /);
    assert.match(replies[5]!, /^250 /, 'NOOP');
    assert.deepEqual(emulator.rawMessage(emulator.messages().at(-1)!.id), Buffer.concat(parts), 'command-like lines inside chunks are content');
  });

  test('BDAT without a recipient, or without MAIL FROM: the chunk is still read, then 503 5.5.2; the session stays usable', async () => {
    reset();
    const { c } = await session();
    const body = Buffer.from('QUIT\r\nRSET\r\n');
    c.write(Buffer.concat([Buffer.from(`BDAT ${body.length} LAST\r\n`), body]));
    assert.equal(await c.readReply(), '503 5.5.2 Need mail command');
    c.write(Buffer.concat([Buffer.from(`MAIL FROM:<${from()}>\r\nBDAT ${body.length} LAST\r\n`), body]));
    assert.deepEqual(await readReplies(c, 2), ['250 2.1.0 Sender OK', '503 5.5.2 Need rcpt command']);
    assert.equal(await c.send('RSET'), '250 2.0.0 Resetting');
    assert.equal(emulator.messages().length, 0);
    assert.equal(c.closed, false, 'the QUIT inside the chunk was not obeyed');
  });

  test('a refused MAIL FROM in a pipelined batch: every later reply still comes, in order', async () => {
    reset();
    emulator.setFaults({ smtpTransient: { code: 451, command: 'MAIL', count: 1 } });
    const { c } = await session();
    const message = Buffer.from('Subject: x\r\n\r\nbody\r\n');
    c.write(Buffer.concat([Buffer.from(`MAIL FROM:<${from()}>\r\nRCPT TO:<a@example.com>\r\nBDAT ${message.length} LAST\r\n`), message]));
    const replies = await readReplies(c, 3);
    assert.match(replies[0]!, /^451 4\.7\.0 /);
    assert.deepEqual(replies.slice(1), ['503 5.5.2 Need mail command', '503 5.5.2 Need mail command']);
  });

  test('BDAT when CHUNKING is off: 500 5.3.3 Unrecognized command, as a server without it answers', async () => {
    reset({ chunking: false });
    const { c } = await session();
    assert.equal(await c.send('BDAT 0 LAST'), '500 5.3.3 Unrecognized command');
    reset();
  });

  test('BDAT syntax errors: 501 5.5.4 Invalid arguments', async () => {
    reset();
    const { c } = await session();
    assert.equal(await c.send('BDAT'), '501 5.5.4 Invalid arguments');
    assert.equal(await c.send('BDAT x LAST'), '501 5.5.4 Invalid arguments');
    assert.equal(await c.send('BDAT 1 LAST MORE'), '501 5.5.4 Invalid arguments');
  });

  test('round trips: one command per write is 4 for one recipient; MAIL/RCPT/DATA pipelined, then the message, is 2', async () => {
    reset();
    const { c } = await session();
    assert.match(await c.send(`MAIL FROM:<${from()}>`), /^250 /);
    assert.match(await c.send('RCPT TO:<a@example.com>'), /^250 /);
    assert.match(await c.send('DATA'), /^354 /);
    assert.match(await c.send('Subject: one by one\r\n\r\nbody\r\n.'), /^250 2\.0\.0 OK /);
    assert.equal(emulator.stats().smtpRoundTripsLast, 4);
    c.write(`MAIL FROM:<${from()}>\r\nRCPT TO:<a@example.com>\r\nDATA\r\n`);
    assert.deepEqual((await readReplies(c, 3)).map((r) => r.slice(0, 3)), ['250', '250', '354']);
    assert.match(await c.send('Subject: pipelined\r\n\r\nbody\r\n.'), /^250 2\.0\.0 OK /);
    assert.equal(emulator.stats().smtpRoundTripsLast, 2);
    assert.equal(emulator.stats().smtpTransactions, 2);
    assert.equal(emulator.stats().smtpRoundTrips, 6);
  });

  test('a chunk split across writes (no reply needed in between) counts once', async () => {
    reset();
    const { c } = await session();
    const message = Buffer.from('Subject: split\r\n\r\n' + 'x'.repeat(4000) + '\r\n');
    c.write(Buffer.concat([Buffer.from(`MAIL FROM:<${from()}>\r\nRCPT TO:<a@example.com>\r\nBDAT ${message.length} LAST\r\n`), message.subarray(0, 100)]));
    // The server has answered MAIL and RCPT and waits for the rest of the chunk: not a new round trip.
    assert.deepEqual((await readReplies(c, 2)).map((r) => r.slice(0, 3)), ['250', '250']);
    c.write(message.subarray(100));
    assert.match(await c.readReply(), /^250 2\.0\.0 OK /);
    assert.equal(emulator.stats().smtpRoundTripsLast, 1);
  });
});
