/**
 * "Send test email": send one message now, outside the outbox, through a fresh mailer built
 * from the current settings, and report the server's reply or the failure with its diagnosis.
 *
 * Why a fresh mailer: the administrator just changed the settings and wants to know whether
 * *these* settings work, without waiting for the queue or reusing a cached token.
 *
 * Every test that reached the mailer is recorded in the store as a test message (status sent
 * or failed, its one attempt with the reply and diagnosis), so the Delivery log shows it marked
 * as a test; a failed one can be retried from there like any message. A test refused before
 * sending (incomplete settings) is not a message and is not recorded.
 *
 * With a sender (issue 16: the admin page's per-sender Test) the message goes as that sender:
 * its Email Settings (credential, signed-in mailbox), its From address (Send As when it is not
 * the signed-in mailbox, as the worker does), recorded under that sender in the delivery log.
 *
 * Imports: node:crypto, src/core, ./mailer-source types, ../intake/http/deps types, ../settings/settings-store types,
 * ../settings/senders-service types, ../outbox/store types.
 */
import { randomUUID } from 'node:crypto';
import { isMailgateError } from '../../core/errors.js';
import type { Diagnosis, DiagnosisContext } from '../../core/diagnosis/types.js';
import { scrubDeep, scrubText } from '../../core/secret.js';
import type { SendTestResult } from '../intake/http/deps.js';
import type { SettingsService } from '../settings/settings-store.js';
import type { SendersService } from '../settings/senders-service.js';
import { secretValues } from '../../core/settings.js';
import { contextFor, learnedFromError } from '../../core/diagnosis/index.js';
import type { MailerFactory } from './mailer-source.js';
import type { OutboxStore } from '../outbox/store.js';

export interface SendTestDeps {
  settings: SettingsService;
  factory: MailerFactory;
  diagnose: (error: unknown, ctx: DiagnosisContext) => Diagnosis;
  now: () => number;
  /** Called with each fresh mailer's token requests once it is closed (metrics). */
  onTokenRequests?: (n: number) => void;
  /** Where test emails are recorded for the delivery log. */
  store?: Pick<OutboxStore, 'recordTest'>;
  /** The senders, for a test as one of them (absent: only the default sender). */
  senders?: Pick<SendersService, 'get'>;
}

const SUBJECT = 'Mailgate test message';
const DAY_MS = 86_400_000;

export function createSendTest(d: SendTestDeps): (to: string, sender?: string) => Promise<SendTestResult> {
  return async (to, senderAddress) => {
    const entry = senderAddress === undefined ? undefined : d.senders?.get(senderAddress);
    if (senderAddress !== undefined && !entry) {
      return { ok: false, error: { code: 'SETTINGS_INVALID', phase: 'settings', message: 'There is no such sender.', problems: [{ key: 'sender', message: `no sender ${senderAddress.slice(0, 320)}` }] } };
    }
    const settings = entry ? entry.settings : d.settings.settings();
    if (!settings) {
      const problems = entry ? entry.problems : d.settings.view().problems;
      return {
        ok: false,
        error: { code: 'SETTINGS_INVALID', phase: 'settings', message: entry ? `The settings of the sender ${entry.address} are incomplete or invalid; fix them first.` : 'The Email Settings are incomplete or invalid; fix them first.', problems: problems.map((p) => ({ key: p.key, message: p.message })) },
      };
    }
    const secrets = [...d.settings.secrets(), ...secretValues(settings)];
    const at = d.now();
    // Send As (as the worker does): a From other than the signed-in mailbox.
    const from = entry && entry.address !== settings.authorizedFrom ? entry.address : undefined;
    const message = {
      ...(from ? { from } : {}),
      to: [to],
      subject: SUBJECT,
      text: `This test message was sent by Mailgate at ${new Date(at).toISOString()} from ${from ?? settings.authorizedFrom}${from ? ` (signed in as ${settings.authorizedFrom})` : ''} through ${settings.smtpHost}:${settings.smtpPort}.\nIf you can read it, the Email Settings work.\n`,
    };
    const record = async (r: { messageIdHeader?: string; outcome: 'sent' | 'failed'; response?: string; reply?: string; code?: string; diagnosis?: Diagnosis }): Promise<string | undefined> => {
      if (!d.store) return undefined;
      const id = randomUUID();
      const domain = settings.authorizedFrom.split('@')[1] ?? 'mailgate.invalid';
      try {
        await d.store.recordTest({
          id,
          messageIdHeader: r.messageIdHeader ?? `<${randomUUID()}@${domain}>`,
          mailbox: settings.authorizedFrom,
          ...(entry ? { sender: entry.address } : {}),
          payload: JSON.stringify(message),
          toSummary: to,
          subject: SUBJECT,
          at,
          expiresAt: at + DAY_MS,
          outcome: r.outcome,
          response: r.response,
          reply: r.reply,
          code: r.code,
          diagnosis: r.diagnosis,
        });
        return id;
      } catch {
        return undefined; // the outcome is still shown; only the log entry is missing
      }
    };
    let mailer: ReturnType<MailerFactory> | undefined;
    try {
      mailer = d.factory(settings, {});
      const r = await mailer.send(message);
      const response = scrubText(r.response, secrets);
      const id = await record({ messageIdHeader: r.messageId, outcome: 'sent', response });
      return { ok: true, response, messageId: r.messageId, ...(id ? { id } : {}) };
    } catch (error) {
      const ctx: DiagnosisContext = contextFor(settings, learnedFromError(error));
      const e = isMailgateError(error) ? error : undefined;
      const failure = scrubDeep({
        code: e?.code ?? 'INTERNAL',
        phase: e?.phase ?? 'send',
        message: error instanceof Error ? error.message : String(error),
        reply: e?.reply,
        diagnosis: d.diagnose(error, ctx),
        problems: e?.problems?.map((p) => ({ key: p.key, message: p.message })),
      }, secrets);
      const messageIdHeader = typeof e?.context.messageId === 'string' ? e.context.messageId : undefined;
      const id = failure.code === 'SETTINGS_INVALID' || failure.code === 'ARGUMENT_INVALID'
        ? undefined
        : await record({ messageIdHeader, outcome: 'failed', reply: failure.reply ?? failure.message, code: failure.code, diagnosis: failure.diagnosis });
      return { ok: false, error: failure, ...(id ? { id } : {}) };
    } finally {
      await mailer?.close().catch(() => undefined);
      d.onTokenRequests?.(mailer?.tokenProvider?.requestCount ?? 0);
    }
  };
}
