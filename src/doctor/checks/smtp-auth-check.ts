/**
 * Check `smtp-auth`: `AUTH XOAUTH2` as the Authorized from Address succeeds (or, with modern
 * authentication off, AUTH with the SMTP username and password — which passes with a warning,
 * because Microsoft turns Basic authentication for SMTP AUTH off by default from the end of
 * December 2026).
 *
 * Why it exists: this is the step that fails with Exchange's catch-all `535 5.7.3`. Combined
 * with what token-claims found, the doctor narrows it down: no SMTP.SendAsApp role → consent;
 * a good token → one of the Exchange-side steps, listed in the order to check them, with
 * commands that carry the token's oid (never the App Registration's object id). Given Exchange's
 * own configuration (../exchange-facts.ts: only the emulator offers it), it names the one step
 * that is missing instead.
 * `observeSmtpAuth` is the connection (the product's SmtpSession, TLS before AUTH);
 * `decideSmtpAuth` is pure.
 *
 * Imports: src/transport/smtp-session, src/core (errors, diagnosis), ../fix-commands, ./diagnosis-result.
 */
import type { MailgateError } from '../../core/errors.js';
import { asMailgateError } from '../../core/internal-error.js';
import { diagnose } from '../../core/diagnosis/index.js';
import type { DiagnosisContext } from '../../core/diagnosis/types.js';
import { SmtpSession, type SessionCredentials, type SessionOptions } from '../../transport/smtp-session.js';
import { CONSENT_PATH, EXCHANGE_SIDE_COMMANDS, EXCHANGE_SIDE_FIX, PS, fillAll, fillOne, fillValues, type FillValues } from '../fix-commands.js';
import type { ExchangeSideFinding } from '../exchange-facts.js';
import { isGuid } from '../../core/settings.js';
import type { CheckResult } from '../types.js';
import { checkFromDiagnosis } from './diagnosis-result.js';

export type AuthMode = 'xoauth2' | 'password';

export type SmtpAuthObservation =
  | { ok: true; session: SmtpSession; ms: number; user: string; mode: AuthMode }
  | { ok: false; error: MailgateError; ms: number; user: string; mode: AuthMode };

/** Connects and authenticates. On success the open, authenticated session is returned for `send`. Never throws. */
export async function observeSmtpAuth(options: SessionOptions, creds: SessionCredentials): Promise<SmtpAuthObservation> {
  const started = Date.now();
  const mode: AuthMode = creds.kind === 'xoauth2' ? 'xoauth2' : 'password';
  const session = new SmtpSession(options);
  try {
    await session.connect();
    await session.authenticate(creds);
    return { ok: true, session, ms: Date.now() - started, user: creds.user, mode };
  } catch (e) {
    session.close();
    const error = asMailgateError(e, 'The sign-in', 'auth');
    return { ok: false, error, ms: Date.now() - started, user: creds.user, mode };
  }
}

/** What token-claims learned, for narrowing a 535 down. */
export interface ClaimsFacts {
  /** True when audience, tenant and oid are right and the token carries SMTP.SendAsApp. */
  good: boolean;
  /** The token's roles; undefined when the token could not be decoded. */
  roles?: string[];
}

/** What the doctor learnt from Exchange's configuration, when it had a source for it. */
export type ExchangeSideView =
  | { source: string; finding: ExchangeSideFinding | undefined }
  | { source: string; error: string };

/** The fix and commands for one Exchange-side step the facts showed missing. */
function fixForFinding(f: ExchangeSideFinding, values: FillValues, registered: string[]): { fix: string[]; commands: string[] } {
  switch (f.cause) {
    case 'mailbox-not-in-tenant':
      return {
        fix: ['Set Authorized from Address (MAILGATE_AUTHORIZED_FROM) to a mailbox of this tenant; check the spelling and the domain (Get-Mailbox below).', 'Then grant the service principal FullAccess on that mailbox (Add-MailboxPermission) and run `mailgate doctor` again.'],
        commands: fillAll([PS.connect, PS.getMailbox, PS.addFullAccess], values),
      };
    case 'no-service-principal':
      return {
        fix: ["Register the app's service principal in Exchange Online with the Enterprise Application's Object ID (the token's oid) (New-ServicePrincipal below), and grant it FullAccess on {authorizedFrom} if not done yet.", 'Changes can take 30 minutes or more to apply; then run `mailgate doctor` again.'].map((t) => fillOne(t, values)),
        commands: fillAll([PS.connect, PS.newServicePrincipal, PS.addFullAccess, PS.getServicePrincipal], values),
      };
    case 'app-registration-object-id': {
      const wrong = registered.filter(isGuid);
      return {
        fix: ['Remove the service principal registered with the wrong Object ID (Remove-ServicePrincipal below) and register it again with the Object ID from Enterprise applications, which is the token\'s oid {oid}.', 'Grant FullAccess on {authorizedFrom} to the new one (a permission given to the wrong Object ID does not count), then run `mailgate doctor` again after the change applies (30 minutes or more).'].map((t) => fillOne(t, values)),
        commands: [fillOne(PS.connect, values), ...wrong.map((id) => `Remove-ServicePrincipal -Identity ${id}`), ...fillAll([PS.newServicePrincipal, PS.addFullAccess], values)],
      };
    }
    case 'shared-mailbox-sign-in':
      return {
        fix: [
          'Sign in as a licensed mailbox with Send As on {authorizedFrom}: that mailbox is the signed-in mailbox (the XOAUTH2 user=, `--sign-in-as`), {authorizedFrom} stays the From address.',
          'Grant that mailbox Send As on {authorizedFrom} if it does not have it yet (Add-RecipientPermission below), and the service principal FullAccess on the signing-in mailbox.',
          'Or, as Microsoft documents for a shared mailbox as user=, give the service principal FullAccess on {authorizedFrom} (Add-MailboxPermission below).',
        ].map((t) => fillOne(t, values)),
        commands: [
          fillOne(PS.connect, values),
          fillOne('Add-RecipientPermission -Identity {authorizedFrom} -Trustee <the licensed mailbox that signs in> -AccessRights SendAs', values),
          fillOne('Get-RecipientPermission -Identity {authorizedFrom}', values),
          fillOne(PS.addFullAccess, values),
        ],
      };
    case 'no-full-access':
      return {
        fix: ['Grant the service principal FullAccess on mailbox {authorizedFrom} (Add-MailboxPermission below), or cover the mailbox with an "Application SMTP.SendAsApp" RBAC assignment.', 'Changes can take 30 minutes or more to apply; then run `mailgate doctor` again.'].map((t) => fillOne(t, values)),
        commands: fillAll([PS.connect, PS.addFullAccess, PS.getFullAccess], values),
      };
  }
}

const MECHANISM: Record<AuthMode, string> = { xoauth2: 'XOAUTH2', password: 'username and password (Basic authentication)' };

export function decideSmtpAuth(o: SmtpAuthObservation, ctx: DiagnosisContext, claims: ClaimsFacts | undefined, exchange?: ExchangeSideView & { registered?: string[] }): CheckResult {
  const details: Record<string, unknown> = { user: o.user, mechanism: o.mode === 'xoauth2' ? 'XOAUTH2' : 'LOGIN/PLAIN', ms: o.ms };
  if (o.ok) {
    if (o.mode === 'password') {
      return {
        id: 'smtp-auth',
        status: 'warn',
        summary: `Signed in to ${ctx.smtpHost} as ${o.user} with a username and password (Basic authentication). Microsoft disables Basic authentication for SMTP AUTH by default from the end of December 2026.`,
        fix: 'Switch to modern authentication now: turn on "Use modern SMTP Authentication" (MAILGATE_USE_MODERN_AUTH=true), set Application (client) ID, Client Secret and Directory (tenant) ID, run the Exchange Online commands from `mailgate setup-script`, then run `mailgate doctor` again.',
        details,
      };
    }
    return { id: 'smtp-auth', status: 'pass', summary: `Signed in to ${ctx.smtpHost} as ${o.user} with ${MECHANISM[o.mode]} (235 Authentication successful).`, details };
  }

  const err = o.error;
  const roles = claims?.roles;
  const d = diagnose(err, { ...ctx, tokenRoles: roles });
  const values = fillValues(ctx);
  const is5737 = err.smtp?.code === 535 && err.smtp.enhanced === '5.7.3' && o.mode === 'xoauth2';

  if (is5737 && claims?.good && exchange && 'finding' in exchange && exchange.finding) {
    const f = fixForFinding(exchange.finding, values, exchange.registered ?? []);
    return checkFromDiagnosis('smtp-auth', d, err, {
      summary: `Exchange Online refused the XOAUTH2 sign-in as ${o.user} (535 5.7.3) although the token is right. Exchange's configuration, as read from ${exchange.source}, shows why: ${exchange.finding.finding}`,
      fix: f.fix,
      commands: f.commands,
      causes: [exchange.finding.finding],
      details: { ...details, exchangeSide: exchange.finding.cause, exchangeFactsFrom: exchange.source },
    });
  }
  if (is5737 && claims?.good) {
    const factsNote = exchange && 'error' in exchange ? { exchangeFactsError: `${exchange.source}: ${exchange.error}` } : {};
    return checkFromDiagnosis('smtp-auth', d, err, {
      summary: `Exchange Online refused the XOAUTH2 sign-in as ${o.user} (535 5.7.3) although the token is right (Exchange Online audience, tenant, SMTP.SendAsApp): a step on the Exchange side is missing.`,
      fix: fillAll(EXCHANGE_SIDE_FIX, values),
      // The diagnosis table has the same commands for this case; fall back to the doctor's if it changes.
      commands: d.id === 'smtp-535-5.7.3-exchange-side' && d.commands?.length ? d.commands : fillAll(EXCHANGE_SIDE_COMMANDS, values),
      details: { ...details, ...factsNote },
    });
  }
  if (is5737 && roles !== undefined && !roles.includes('SMTP.SendAsApp')) {
    return checkFromDiagnosis('smtp-auth', d, err, {
      summary: `Exchange Online refused the XOAUTH2 sign-in as ${o.user} (535 5.7.3), and the token carries no SMTP.SendAsApp role: admin consent was not granted or the permission is missing.`,
      fix: [
        `Add the permission and grant admin consent: ${fillOne(CONSENT_PATH, values)}`,
        'Then run `mailgate doctor` again: token-claims must list SMTP.SendAsApp in roles. If it does and the sign-in still fails, the doctor names the Exchange-side step that is missing.',
        'If you use RBAC for Applications instead of the Entra permission, the role assignment "Application SMTP.SendAsApp" for the service principal is missing or does not cover the mailbox (New-ManagementRoleAssignment below; `mailgate setup-script` prints the whole set-up).',
      ],
      details,
    });
  }
  return checkFromDiagnosis('smtp-auth', d, err, { details });
}
