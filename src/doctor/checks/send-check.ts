/**
 * Check `send` (only when a recipient is given): a small test message is accepted at the end of
 * DATA, on the session smtp-auth signed in.
 *
 * Why it exists: some refusals appear only after the sign-in, at MAIL FROM or at the end of
 * DATA — a Send As denial when the From differs from the signed-in mailbox, a full mailbox,
 * a submission quota — and only sending a message shows them. `observeSend` sends;
 * `decideSend` is pure.
 *
 * Imports: src/core (message validation, errors, diagnosis), src/transport (compose, session).
 */
import type { MailgateError } from '../../core/errors.js';
import { asMailgateError } from '../../core/internal-error.js';
import { validateMessage } from '../../core/message.js';
import { diagnose } from '../../core/diagnosis/index.js';
import type { DiagnosisContext } from '../../core/diagnosis/types.js';
import { composeMessage } from '../../transport/compose-message.js';
import type { SmtpSession } from '../../transport/smtp-session.js';
import type { CheckResult } from '../types.js';
import { checkFromDiagnosis } from './diagnosis-result.js';

export type SendObservation =
  | { ok: true; ms: number; from: string; to: string; messageId: string; response: string }
  | { ok: false; ms: number; from: string; to: string; messageId?: string; error: MailgateError };

/** The test message (validated like any message; nothing of the settings' secrets goes in it). */
export function testMessage(to: string, from: string, smtpHost: string) {
  return validateMessage({
    from,
    to: [to],
    subject: 'Mailgate doctor test message',
    text:
      `This message was sent by \`mailgate doctor\` to check that ${smtpHost} accepts mail from ${from}.\n` +
      'If you received it, sending works. No action is needed.\n',
    headers: { 'X-Mailgate-Doctor': '1' },
  });
}

/** Sends the test message on an authenticated session. Never throws. */
export async function observeSend(session: SmtpSession, o: { to: string; from: string; defaultFrom: string; smtpHost: string }): Promise<SendObservation> {
  const started = Date.now();
  let messageId: string | undefined;
  try {
    const composed = await composeMessage(testMessage(o.to, o.from, o.smtpHost), o.defaultFrom);
    messageId = composed.messageId;
    const r = await session.send(composed.envelope, composed.raw);
    return { ok: true, ms: Date.now() - started, from: o.from, to: o.to, messageId, response: r.response };
  } catch (e) {
    const error = asMailgateError(e, 'Sending the test message', 'send');
    return { ok: false, ms: Date.now() - started, from: o.from, to: o.to, messageId, error };
  }
}

export function decideSend(o: SendObservation, ctx: DiagnosisContext): CheckResult {
  const details: Record<string, unknown> = { from: o.from, to: o.to, ms: o.ms, ...(o.messageId ? { messageId: o.messageId } : {}) };
  if (o.ok) {
    return {
      id: 'send',
      status: 'pass',
      summary: `The test message from ${o.from} to ${o.to} was accepted: ${o.response}`,
      details: { ...details, response: o.response },
    };
  }
  const d = diagnose(o.error, { ...ctx, from: o.from });
  return checkFromDiagnosis('send', d, o.error, { details });
}
