/**
 * What the service does when a credential's token provider switched to its secondary
 * (issue 17 item 3): one `warn` log line, the metric `mailgate_credential_failover_total`, and an
 * alert email to MAILGATE_ALERT_TO through Mailgate's own outbox, the same path as the expiry
 * alerts (credential-expiry-monitor.ts): parsed as a message request and submitted with an
 * idempotency key per credential, code and credential values, so a restart or a second report
 * of the same switch never sends it twice, and a new credential that fails again does.
 *
 * Why: the switch keeps mail flowing, but the primary is broken (expired, wrong) and the
 * secondary is now the only thing between the service and an outage. The administrator must
 * hear it at once, with the steps to rotate.
 *
 * Imports: src/core (settings types), ../intake/message-request, ../outbox types, ../../log types,
 * ./credential-rotation-service (types).
 */
import type { EmailSettings } from '../../core/settings.js';
import type { Logger } from '../../log/logger.js';
import { parseMessageRequest } from '../intake/message-request.js';
import type { Outbox } from '../outbox/outbox.js';
import type { CredentialRotationService } from './credential-rotation-service.js';

export interface FailoverAlertDeps {
  rotation: Pick<CredentialRotationService, 'recordFailover'>;
  outbox: Pick<Outbox, 'submit'>;
  logger: Logger;
  alertTo?: string;
}

/** The alert email of a failover (plain text, the rotation steps). */
export function failoverAlertEmail(name: string, code: string, at: number, to: string, fingerprint: string, clientId?: string): { to: string[]; subject: string; text: string; idempotencyKey: string } {
  // Only a GUID goes into the command (the settings validated it; the placeholder otherwise).
  const app = clientId && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(clientId) ? clientId : '<clientId>';
  return {
    to: [to],
    subject: `[Mailgate] Credential "${name}": primary refused (${code}); using the secondary`.replace(/[\r\n]+/g, ' ').slice(0, 900),
    text: [
      `primary credential refused: ${code}; using the secondary.`,
      '',
      `Credential: ${name}`,
      `At: ${new Date(at).toISOString()}`,
      '',
      'Mail is still delivered, with the secondary credential. Nothing failed because of the switch.',
      'But the primary no longer works (AADSTS7000222: the secret expired; AADSTS7000215: the secret is wrong or is its ID, not its value; AADSTS700027: the certificate is not uploaded or its key is unknown),',
      'and the secondary is now the only working credential. Rotate now:',
      '',
      // promote needs a passed test of the secondary (a failover is not recorded as one).
      `1. Make the secondary primary:      mailgate credentials test ${name}, then mailgate credentials promote ${name}`,
      `2. Remove the refused one (now the secondary): mailgate credentials remove ${name}, and delete it in Entra (Certificates & secrets)`,
      `3. Create a new secret or certificate in Entra: az ad app credential reset --id ${app} --append (or mailgate cert create)`,
      `4. Add it as the secondary and test it: mailgate credentials add ${name} --secret-stdin (or --certificate client.pem), then mailgate credentials test ${name}`,
      '(The same steps are in the admin page\'s Rotate panel; a MAILGATE_CONFIG or environment credential is rotated by editing its references.)',
      '',
      'Mailgate stays on the secondary until the credential\'s settings change.',
    ].join('\n'),
    idempotencyKey: `credential-failover:${name}:${code}:${fingerprint.slice(0, 32)}`,
  };
}

/** Handles one failover report (from the delivery thread or an in-process mailer). Never throws. */
export function failoverHandler(d: FailoverAlertDeps, count: (name: string) => void): (settings: EmailSettings, event: { code: string; at: number }) => void {
  return (settings, event) => {
    const r = d.rotation.recordFailover(settings, event);
    const name = r?.name ?? 'unknown';
    count(name);
    d.logger.warn({ event: 'credential-failover', credential: name, code: event.code, at: new Date(event.at).toISOString() }, `primary credential refused: ${event.code}; using the secondary (credential ${name})`);
    if (!d.alertTo || (r && !r.first)) return;
    const email = failoverAlertEmail(name, event.code, event.at, d.alertTo, r?.fingerprint ?? 'unknown', settings.clientId);
    const parsed = parseMessageRequest(email);
    if (!parsed.ok) {
      d.logger.error({ problems: parsed.problems.map((p) => p.message) }, 'MAILGATE_ALERT_TO cannot receive the credential failover alert');
      return;
    }
    void d.outbox.submit(parsed.request).then(
      (result) => d.logger.warn({ event: 'credential-failover-alert', credential: name, code: event.code, outcome: result.outcome }, `credential failover alert queued for ${d.alertTo}`),
      (error: unknown) => d.logger.error({ err: error }, 'the credential failover alert could not be queued'),
    );
  };
}
