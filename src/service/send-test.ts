/**
 * "Send test email": send one message now, outside the outbox, through a fresh mailer built
 * from the current settings, and report the server's reply or the failure with its diagnosis.
 *
 * Why a fresh mailer: the administrator just changed the settings and wants to know whether
 * *these* settings work, without waiting for the queue or reusing a cached token.
 *
 * Imports: src/core, ./worker/mailer-source types, ./http/deps types.
 */
import { isMailgateError } from '../core/errors.js';
import type { Diagnosis, DiagnosisContext } from '../core/diagnosis/types.js';
import { scrubDeep, scrubText } from '../core/secret.js';
import type { SendTestResult } from './http/deps.js';
import type { SettingsService } from './settings-store.js';
import { contextFor } from '../core/diagnosis/index.js';
import type { MailerFactory } from './worker/mailer-source.js';

export interface SendTestDeps {
  settings: SettingsService;
  factory: MailerFactory;
  diagnose: (error: unknown, ctx: DiagnosisContext) => Diagnosis;
  now: () => number;
  /** Called with each fresh mailer's token requests once it is closed (metrics). */
  onTokenRequests?: (n: number) => void;
}

export function createSendTest(d: SendTestDeps): (to: string) => Promise<SendTestResult> {
  return async (to) => {
    const settings = d.settings.settings();
    const view = d.settings.view();
    if (!settings) {
      return {
        ok: false,
        error: { code: 'SETTINGS_INVALID', phase: 'settings', message: 'The Email Settings are incomplete or invalid; fix them first.', problems: view.problems.map((p) => ({ key: p.key, message: p.message })) },
      };
    }
    const secrets = d.settings.secrets();
    let mailer: ReturnType<MailerFactory> | undefined;
    try {
      mailer = d.factory(settings, {});
      const r = await mailer.send({
        to: [to],
        subject: 'Mailgate test message',
        text: `This test message was sent by Mailgate at ${new Date(d.now()).toISOString()} from ${settings.authorizedFrom} through ${settings.smtpHost}:${settings.smtpPort}.\nIf you can read it, the Email Settings work.\n`,
      });
      return { ok: true, response: scrubText(r.response, secrets), messageId: r.messageId };
    } catch (error) {
      const ctx: DiagnosisContext = contextFor(settings);
      const e = isMailgateError(error) ? error : undefined;
      return {
        ok: false,
        error: scrubDeep({
          code: e?.code ?? 'INTERNAL',
          phase: e?.phase ?? 'send',
          message: error instanceof Error ? error.message : String(error),
          reply: e?.reply,
          diagnosis: d.diagnose(error, ctx),
          problems: e?.problems?.map((p) => ({ key: p.key, message: p.message })),
        }, secrets),
      };
    } finally {
      await mailer?.close().catch(() => undefined);
      d.onTokenRequests?.(mailer?.tokenProvider?.requestCount ?? 0);
    }
  };
}
