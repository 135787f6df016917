// Starting and stopping the emulator as a library: bad input to startEmulator, a port in use,
// and a stop() that closes open sessions and cleans up its temporary directory.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { RawSmtpClient } from '../helpers/emulator-client.js';

describe('emulator lifecycle', () => {
  let emulator: Emulator;
  before(async () => {
    emulator = await startEmulator();
  });
  after(() => emulator.stop());

  test('an invalid state is refused with every problem listed', async () => {
    await assert.rejects(startEmulator({ tenants: [{ id: 'nope', domains: [] }] } as never), (err: Error) => {
      assert.match(err.message, /^Invalid emulator state:/);
      assert.match(err.message, /tenants\.0\.id/);
      assert.match(err.message, /tenants\.0\.domains/);
      return true;
    });
  });

  test('a port in use makes startEmulator reject (EADDRINUSE) without leaving a listener behind', async () => {
    await assert.rejects(startEmulator(undefined, { smtpPort: emulator.smtp.port }), /EADDRINUSE/);
    await assert.rejects(startEmulator(undefined, { httpsPort: Number(new URL(emulator.authorityHost).port) }), /EADDRINUSE/);
  });

  test('getState returns a copy: editing it changes nothing until setState', () => {
    const copy = emulator.getState();
    copy.tenants[0]!.smtpAuthDisabled = true;
    assert.equal(emulator.getState().tenants[0]!.smtpAuthDisabled, false);
  });

  test('stop() closes open SMTP sessions, is idempotent, and removes its temporary directory', async () => {
    const own = await startEmulator();
    const client = await RawSmtpClient.connect(own.smtp.port);
    await client.readReply();
    assert.ok(existsSync(own.caFile));
    await Promise.all([own.stop(), own.stop()]);
    await client.closedPromise;
    assert.equal(existsSync(own.caFile), false);
    await own.stop();
  });
});
