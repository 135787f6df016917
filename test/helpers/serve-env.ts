/**
 * The environment of a `mailgate serve` child process (or a one-shot CLI command on the same
 * data dir) pointed at the emulator's demo tenant: data dir, master key, a free HTTP port, the
 * emulator's CA, hosts and IDs, a fast poll and no rate limit. Tests add what they are about
 * (`extra` wins). One place, so crash, storage, admin-form and relay replays configure the
 * service alike.
 */
import type { Emulator } from '../../src/emulator/index.js';

export function serveEnv(emulator: Emulator, dataDir: string, masterKey: string, extra: Record<string, string> = {}): Record<string, string> {
  const demo = emulator.demo!;
  return {
    MAILGATE_DATA_DIR: dataDir,
    MAILGATE_MASTER_KEY: masterKey,
    MAILGATE_HTTP_PORT: '0',
    MAILGATE_CA_FILE: emulator.caFile,
    MAILGATE_POLL_INTERVAL_MS: '50',
    MAILGATE_RATE_PER_MINUTE: '1000000',
    MAILGATE_LOG_LEVEL: 'warn',
    MAILGATE_SMTP_HOST: emulator.smtp.host,
    MAILGATE_SMTP_PORT: String(emulator.smtp.port),
    MAILGATE_AUTHORITY_HOST: emulator.authorityHost,
    MAILGATE_TENANT_ID: demo.tenantId,
    MAILGATE_CLIENT_ID: demo.clientId,
    MAILGATE_CLIENT_SECRET: demo.clientSecret,
    MAILGATE_AUTHORIZED_FROM: demo.authorizedFrom,
    ...extra,
  };
}
