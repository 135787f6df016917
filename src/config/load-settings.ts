/**
 * The I/O side of settings for one-shot commands: read the environment, validate with the core
 * schema, and turn problems into a MailgateError SETTINGS_INVALID listing every one of them.
 */
import { MailgateError, type Problem } from '../core/errors.js';
import { parseSettings, settingsFromEnv, type EmailSettings } from '../core/settings.js';

export interface LoadedSettings {
  settings: EmailSettings;
  warnings: Problem[];
}

export function loadSettingsFromEnv(env: Record<string, string | undefined> = process.env): LoadedSettings {
  const { raw } = settingsFromEnv(env);
  const r = parseSettings(raw);
  if (!r.ok) {
    throw new MailgateError({
      code: 'SETTINGS_INVALID',
      phase: 'settings',
      message: `Invalid settings: ${r.problems.map((p) => p.message).join('; ')}`,
      problems: r.problems,
    });
  }
  return { settings: r.settings, warnings: r.warnings };
}
