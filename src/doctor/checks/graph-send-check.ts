/**
 * Check `graph-send` (Transport graph or auto, only with a recipient): a small test message is
 * accepted (202) by Microsoft Graph's sendMail through the Graph transport itself.
 *
 * Why it exists: what the token cannot show — an RBAC for Applications scope or an Application
 * Access Policy that excludes the mailbox, a mailbox without an Exchange Online licence
 * (MailboxNotEnabledForRESTAPI), a Send As denial — appears only when Graph is asked to send.
 * `observeGraphSend` sends with the same GraphTransport the service uses; `decideGraphSend` is
 * pure and explains a refusal with the Graph diagnosis table.
 *
 * Imports: src/core (errors, diagnosis), src/transport (compose, Graph transport), ./send-check.
 */
import type { MailgateError } from '../../core/errors.js';
import { asMailgateError } from '../../core/internal-error.js';
import { diagnose } from '../../core/diagnosis/index.js';
import type { DiagnosisContext } from '../../core/diagnosis/types.js';
import { composeMessage } from '../../transport/compose-message.js';
import { GraphTransport } from '../../transport/graph/graph-transport.js';
import type { Secret } from '../../core/secret.js';
import type { EmailSettings } from '../../core/settings.js';
import type { CheckResult } from '../types.js';
import { checkFromDiagnosis } from './diagnosis-result.js';
import { testMessage } from './send-check.js';

export type GraphSendObservation =
  | { ok: true; ms: number; from: string; to: string; messageId: string; response: string; requestId?: string; clientRequestId?: string }
  | { ok: false; ms: number; from: string; to: string; messageId?: string; error: MailgateError };

/** Sends the test message by Graph with the doctor's Graph token (no refresh, one attempt). Never throws. */
export async function observeGraphSend(settings: EmailSettings, token: Secret, o: { to: string; from: string; ca?: string | Buffer; timeoutMs: number }): Promise<GraphSendObservation> {
  const started = Date.now();
  let messageId: string | undefined;
  try {
    const composed = await composeMessage(testMessage(o.to, o.from, new URL(settings.graphEndpoint).host), settings.authorizedFrom);
    messageId = composed.messageId;
    const transport = new GraphTransport(
      { endpoint: settings.graphEndpoint, mailbox: settings.authorizedFrom, clientId: settings.clientId ?? '', ca: o.ca, timeoutMs: o.timeoutMs, deadlineMs: Math.max(o.timeoutMs, 15_000), maxRetryAfterWaitMs: 0 },
      { token: async () => token.reveal() },
    );
    const r = await transport.send({ raw: composed.raw, messageId, recipients: [o.to] });
    return { ok: true, ms: Date.now() - started, from: o.from, to: o.to, messageId, response: r.response, requestId: r.requestId, clientRequestId: r.clientRequestId };
  } catch (e) {
    return { ok: false, ms: Date.now() - started, from: o.from, to: o.to, messageId, error: asMailgateError(e, 'Sending the test message by Microsoft Graph', 'send') };
  }
}

export function decideGraphSend(o: GraphSendObservation, ctx: DiagnosisContext): CheckResult {
  const details: Record<string, unknown> = { from: o.from, to: o.to, ms: o.ms, ...(o.messageId ? { messageId: o.messageId } : {}) };
  if (o.ok) {
    return {
      id: 'graph-send',
      status: 'pass',
      summary: `Microsoft Graph accepted the test message from ${o.from} to ${o.to}: ${o.response}`,
      details: { ...details, response: o.response, requestId: o.requestId, clientRequestId: o.clientRequestId },
    };
  }
  const g = o.error.graph;
  const graphDetails = g ? { httpStatus: g.status, graphCode: g.code, ...(g.requestId ? { requestId: g.requestId } : {}), ...(g.clientRequestId ? { clientRequestId: g.clientRequestId } : {}) } : {};
  return checkFromDiagnosis('graph-send', diagnose(o.error, { ...ctx, from: o.from }), o.error, { details: { ...details, ...graphDetails } });
}
