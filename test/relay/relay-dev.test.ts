/**
 * `mailgate dev` turns the SMTP relay on and prints a ready-to-paste swaks command whose
 * credentials work: a message sent with them through the relay reaches the emulator's mailbox.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { devBanner, startDev } from '../../src/app/dev.js';
import { createLogger } from '../../src/log/logger.js';
import { RawSmtpClient } from '../helpers/emulator-client.js';
import { LineCapture, waitFor } from '../service/helpers.js';
import { dataOf, deviceMessage } from './relay-helpers.js';

describe('mailgate dev relay', () => {
  it('starts the relay and prints a swaks command with working credentials', async () => {
    // Port 0 here (2525 may be used by someone else on this machine); the default is 2525.
    const dev = await startDev({ temp: true, port: 0, env: { MAILGATE_RELAY_PORT: '0' }, logger: createLogger({ destination: new LineCapture(), level: 'warn' }) });
    try {
      const banner = devBanner(dev, false);
      const relay = dev.service.relay!;
      assert.ok(relay.port > 0);
      assert.match(banner, new RegExp(`swaks --server 127\\.0\\.0\\.1 --port ${relay.port} --tls --auth PLAIN`));
      const user = /--auth-user '([^']+)'/.exec(banner)![1]!;
      const pass = /--auth-password '([^']+)'/.exec(banner)![1]!;
      const from = /--from '([^']+)'/.exec(banner)![1]!;
      const ca = readFileSync(join(dev.dataDir, 'relay-tls', 'cert.pem'), 'utf8');
      const c = await RawSmtpClient.connectSecure(relay.port, ca);
      assert.match(await c.send(`AUTH PLAIN ${Buffer.from(`\0${user}\0${pass}`).toString('base64')}`), /^235 /);
      await c.send(`MAIL FROM:<${from}>`);
      await c.send('RCPT TO:<someone@example.com>');
      await c.send('DATA');
      assert.match(await c.send(dataOf(deviceMessage({ from, to: 'someone@example.com', subject: 'Hello from the relay' })).replace(/\r\n$/, '')), /^250 2\.0\.0 Ok: queued as /);
      c.write('QUIT\r\n');
      await waitFor(() => dev.emulator.messages().some((m) => m.subject === 'Hello from the relay'), 15_000, 'delivered');
    } finally {
      await dev.stop();
    }
  });
});
