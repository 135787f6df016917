/**
 * One emulator per test file, and the tenant under test: tests switch the emulator to a built
 * tenant state (correct, or with one step missed) and get the settings for it, as environment
 * variables (for CLI tests) or raw settings (for library tests).
 */
import { before, after } from 'node:test';
import { FIELD_BY_KEY, type SettingKey } from '../../src/core/settings.js';
import { startEmulator, buildTenantState, type Emulator, type EmulatorOptions, type BuiltTenant, type TenantStateOptions } from '../../src/emulator/index.js';

export interface EmulatedTenants {
  /** The running emulator (valid inside tests). */
  readonly emu: Emulator;
  /** Make this tenant the emulator's state (faults cleared, stats reset) and return it. */
  tenant(options?: TenantStateOptions): BuiltTenant;
  /** MAILGATE_* variables (and NODE_EXTRA_CA_CERTS) for the tenant, plus overrides. */
  envFor(t: BuiltTenant, extra?: Record<string, string>): Record<string, string>;
  /** Raw settings for the tenant, plus overrides. */
  rawFor(t: BuiltTenant, extra?: Record<string, string>): Record<string, string>;
}

/** Starts an emulator before the file's tests and stops it after them. */
export function useEmulatedTenants(options: EmulatorOptions = {}): EmulatedTenants {
  let emu: Emulator | undefined;
  before(async () => {
    emu = await startEmulator(buildTenantState().state, options);
  });
  after(async () => {
    await emu?.stop();
  });
  const running = (): Emulator => {
    if (!emu) throw new Error('the emulator is not running (use it inside a test)');
    return emu;
  };
  const rawFor = (t: BuiltTenant, extra: Record<string, string> = {}): Record<string, string> => ({
    clientId: t.clientId,
    tenantId: t.tenantId,
    clientSecret: t.clientSecret ?? '',
    authorizedFrom: t.authorizedFrom,
    smtpHost: running().smtp.host,
    smtpPort: String(running().smtp.port),
    authorityHost: running().authorityHost,
    ...extra,
  });
  return {
    get emu() {
      return running();
    },
    tenant(o: TenantStateOptions = {}) {
      const t = buildTenantState(o);
      running().setState(t.state);
      running().clearFaults();
      running().resetStats();
      return t;
    },
    rawFor,
    envFor(t, extra = {}) {
      // The same values as rawFor, under each setting's environment variable.
      const env: Record<string, string> = { NODE_EXTRA_CA_CERTS: running().caFile };
      for (const [key, value] of Object.entries(rawFor(t))) env[FIELD_BY_KEY[key as SettingKey].env] = value;
      return { ...env, ...extra };
    },
  };
}
