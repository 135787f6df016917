/**
 * Mailgate's public library API: what an application imports to send through Microsoft 365
 * with OAuth2 and explain failures. The service, the CLI and the emulator are built on these.
 *
 * @example
 * ```ts
 * import { parseSettings, createMailer, diagnose, isMailgateError } from 'mailgate';
 * const r = parseSettings({ clientId, tenantId, clientSecret, authorizedFrom });
 * if (!r.ok) throw new Error(r.problems.map((p) => p.message).join('\n'));
 * const mailer = createMailer(r.settings);
 * try {
 *   await mailer.send({ to: ['user@example.com'], subject: 'Reset your password', text: '...' });
 * } catch (e) {
 *   if (isMailgateError(e)) console.error(e.code, e.reply, diagnose(e).summary);
 * } finally {
 *   await mailer.close();
 * }
 * ```
 */
export { createMailer, createTokenProvider, EXCHANGE_MAX_CONNECTIONS, type MailerDeps, type MailgateMailer } from './mailer.js';
export { parseSettings, settingsFromEnv, publicSettings, SETTINGS_FIELDS, SETTING_KEYS, type EmailSettings, type RawSettings, type SettingField, type SettingKey } from './core/settings.js';
export { CLOUDS, CLOUD_IDS, type CloudId } from './core/clouds.js';
export { MailgateError, isMailgateError, parseSmtpReply, ERROR_CODES, type ErrorCode, type Phase, type Problem, type SmtpReply, type TokenEndpointReply } from './core/errors.js';
export { diagnose, diagnoseSmtpReply, diagnoseAadsts, type Diagnosis, type DiagnosisContext } from './core/diagnosis/index.js';
export { classifyForRetry, type RetryDecision } from './core/retry-policy.js';
export { validateMessage, MAX_RECIPIENTS, MAX_MESSAGE_BYTES } from './core/message.js';
export { Secret } from './core/secret.js';
export { buildXOAuth2 } from './core/xoauth2.js';
export { decodeTokenClaims, type TokenClaims } from './auth/jwt-claims.js';
export type { Mailer, OutboundMessage, SendResult, TokenProvider, AccessToken, Attachment } from './core/ports.js';
export { runDoctor, buildSetupScript, renderReport, CHECK_IDS, type DoctorReport, type DoctorOptions, type CheckResult } from './doctor/index.js';
