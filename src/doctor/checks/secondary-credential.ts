/**
 * The secondary credential in the doctor (issue 17, rotation): when a credential has a second
 * live credential, the doctor tests it too — a real, uncached token request with it alone, the
 * very call of `mailgate credentials test` (mailer.ts `testCredentialToken` on the settings of
 * that slot alone, core/credential-slots.ts) — and reports its kind, its certificate's
 * thumbprint and its expiry, with the same expiry warnings as the primary's.
 *
 * Why it exists: a secondary that Entra refuses (a Secret ID pasted, an expired secret, a
 * certificate never uploaded) is only found on the day the primary fails, when the failover it
 * was added for does not happen. The doctor finds it on the day it is added.
 *
 * Where it shows (the list of check IDs stays stable): its certificate and expiry in `settings`
 * (beside the primary's: settings-check.ts), its token test in `token` (in `graph-token` with
 * Transport graph, where `token` is skipped), under `details.secondary`.
 *
 * Status rules, following what the service does (auth/credential-failover.ts):
 * - the primary works and the secondary is refused: `warn`, never `fail`: delivery works on the
 *   primary, only the failover is lost. The fix is the secondary's own AADSTS diagnosis (real
 *   IDs), then the rotation steps that replace it.
 * - the primary is refused with an answer the service fails over on (AADSTS7000215, 7000222,
 *   700027) and the secondary works: `warn`: the service switches at once and delivers, so the
 *   rest of the chain runs with the secondary's token, as delivery would. The fix: make the
 *   secondary primary, then add a new secondary.
 * - otherwise a refused primary keeps its `fail` (the secondary's result is in the details).
 * The secondary's token only ever lives in a Secret and is scrubbed from the report.
 *
 * Imports: src/core (slots, failover table, errors, secret, diagnosis types), src/mailer
 * (testCredentialToken), ./settings-check (certificate), ./token-check (observation, decision).
 */
import { secondarySettings } from '../../core/credential-slots.js';
import { failoverDecision } from '../../core/credential-rotation.js';
import { asMailgateError } from '../../core/internal-error.js';
import { Secret } from '../../core/secret.js';
import type { EmailSettings } from '../../core/settings.js';
import type { DiagnosisContext } from '../../core/diagnosis/types.js';
import { testCredentialToken } from '../../mailer.js';
import { credentialInCommand, joinFix, replaceSecondarySteps } from '../fix-commands.js';
import type { CheckResult } from '../types.js';
import { observeCertificate, type CertificateObservation } from './settings-check.js';
import { decideToken, type TokenObservation } from './token-check.js';

/** What the doctor learned about the secondary: its kind, its certificate (when it is one), and one token request with it alone. */
export interface SecondaryObservation {
  credential: 'client secret' | 'certificate';
  /** The settings with the secondary alone (holds the secret: never in a report). */
  settings: EmailSettings;
  certificate?: CertificateObservation;
  token: TokenObservation;
}

/** The secondary's kind, or undefined without one. */
export function secondaryKind(settings: EmailSettings): 'client secret' | 'certificate' | undefined {
  const alone = secondarySettings(settings);
  if (!alone) return undefined;
  return alone.clientCertificatePath || alone.clientCertificatePem ? 'certificate' : 'client secret';
}

/** Reads the secondary certificate (undefined without a secondary certificate). */
export async function observeSecondaryCertificate(settings: EmailSettings): Promise<CertificateObservation | undefined> {
  const alone = settings.useModernAuth ? secondarySettings(settings) : undefined;
  return alone ? observeCertificate(alone) : undefined;
}

/**
 * The secondary's token request, with it alone, exactly as `mailgate credentials test` makes it.
 * Undefined without a secondary (or without modern authentication). Never throws.
 */
export async function observeSecondary(settings: EmailSettings, o: { ca?: string | Buffer; timeoutMs: number }): Promise<SecondaryObservation | undefined> {
  const alone = settings.useModernAuth ? secondarySettings(settings) : undefined;
  if (!alone) return undefined;
  const certificate = await observeCertificate(alone);
  const started = Date.now();
  let token: TokenObservation;
  try {
    const t = await testCredentialToken(alone, { ...(o.ca !== undefined ? { ca: o.ca } : {}), timeoutMs: o.timeoutMs });
    token = { ok: true, token: new Secret(t.token), expiresAt: t.expiresAt, ms: Date.now() - started };
  } catch (e) {
    token = { ok: false, error: asMailgateError(e, 'The token request with the secondary credential', 'token'), ms: Date.now() - started };
  }
  return { credential: secondaryKind(settings)!, settings: alone, ...(certificate ? { certificate } : {}), token };
}

export interface SecondaryDecision {
  check: CheckResult;
  /** The service would switch to the secondary and deliver with it: the chain continues with its token. */
  failover: boolean;
}

/**
 * Folds the secondary's test into the check that reports the primary's token (`token`, or
 * `graph-token` with Transport graph): `check` as decided (on the primary's token, or after a
 * failover on the secondary's), `primary` the primary's token request, `ctx` the diagnosis
 * context (real IDs). Pure.
 */
export interface SecondaryInput {
  check: CheckResult;
  primary: TokenObservation;
  primarySettings: EmailSettings;
  secondary: SecondaryObservation;
  ctx: DiagnosisContext;
  /** The credential's name (the rotation commands name it; default `default`). */
  credential?: string;
  /** `check` was decided on the secondary's own token (graph-token after a failover). */
  decidedOnSecondary?: boolean;
}

export function decideSecondary(input: SecondaryInput): SecondaryDecision {
  const { check, primary, primarySettings, secondary, ctx, credential } = input;
  const kind = secondary.credential;
  const own = decideToken(secondary.token, secondary.settings, ctx);
  const ownFix = secondaryFix(own);
  const thumbprint = secondary.certificate?.ok ? secondary.certificate.thumbprintSha1 : undefined;
  const details: Record<string, unknown> = {
    credential: kind,
    ...(thumbprint ? { certificateThumbprint: thumbprint } : {}),
    ok: secondary.token.ok,
    summary: own.summary,
    ms: secondary.token.ms,
  };
  if (secondary.token.ok) details.expiresAt = new Date(secondary.token.expiresAt).toISOString();
  else {
    for (const k of ['aadsts', 'error', 'httpStatus', 'diagnosis', 'traceId', 'correlationId'] as const) {
      if (own.details?.[k] !== undefined) details[k] = own.details[k];
    }
  }
  const withDetails = (c: CheckResult): CheckResult => ({ ...c, details: { ...c.details, secondary: details } });
  const name = credentialInCommand(credential);

  if (primary.ok) {
    if (secondary.token.ok) {
      return { check: withDetails({ ...check, summary: `${check.summary} The secondary ${kind} works too (a token with it alone): a failover would deliver.` }), failover: false };
    }
    // The primary delivers; only the failover is lost: a warning, never a failure.
    const failed = check.status === 'fail';
    return {
      check: withDetails({
        ...check,
        status: failed ? 'fail' : 'warn',
        summary: `${check.summary} Delivery works on the primary, but the secondary ${kind} cannot take over until it is fixed: ${asSecondary(own.summary)}`,
        fix: joinFix([...(check.fix ? [check.fix] : []), `The secondary ${kind}:`, ...ownFix, ...replaceSecondarySteps(credential)]),
        commands: [...(check.commands ?? []), ...(own.commands ?? [])],
      }),
      failover: false,
    };
  }

  const decision = failoverDecision(primary.error);
  if (decision.switch && secondary.token.ok) {
    // `check` is the primary's failure (token), or the decision on the secondary's own token
    // (graph-token with Transport graph, which asked Graph's scope with the secondary alone).
    const own = input.decidedOnSecondary ? check : undefined;
    const p = decideToken(primary, primarySettings, ctx);
    return {
      check: withDetails({
        ...check,
        status: own?.status === 'fail' ? 'fail' : 'warn',
        summary: `Microsoft Entra ID refused the primary credential (${decision.code ?? primary.error.code}) and issued a token with the secondary ${kind}: Mailgate switches to the secondary at once and delivers with it; the checks below use the secondary's token. ${p.summary}${own ? ` ${own.summary}` : ''}`,
        fix: joinFix([
          `Make the secondary primary: \`mailgate credentials test ${name}\`, then \`mailgate credentials promote ${name}\` (or Test and Make primary in the credential's Rotate panel; a MAILGATE_CONFIG credential: swap its primary and secondary in the file).`,
          `Then remove the refused credential, now the secondary: \`mailgate credentials remove ${name}\`, and delete it in Entra (Certificates & secrets).`,
          `Add a new secondary in good time: create it in Entra (the commands below), then \`mailgate credentials add ${name}\` and \`mailgate credentials test ${name}\`.`,
          ...(own?.fix ? [own.fix] : []),
        ]),
        commands: [...(p.commands ?? []), ...(own?.commands ?? [])],
      }),
      failover: true,
    };
  }
  const note = secondary.token.ok
    ? ` The secondary ${kind} works, but Mailgate does not switch on this answer (${decision.why}).`
    : ` The secondary ${kind} was refused too${secondaryCode(secondary)}.`;
  return {
    check: withDetails({
      ...check,
      summary: `${check.summary}${note}`,
      ...(secondary.token.ok ? {} : { fix: joinFix([...(check.fix ? [check.fix] : []), `The secondary ${kind}:`, ...ownFix]) }),
    }),
    failover: false,
  };
}

/**
 * The secondary's fix steps: the diagnosis' own (AADSTS table, real IDs), where the primary's
 * setting is named, the secondary is named instead (a secondary is put in place by the rotation
 * steps, not by editing Client Secret).
 */
function secondaryFix(own: CheckResult): string[] {
  return (own.fix ?? own.summary).split('\n').map(asSecondary);
}

/** A text of the token diagnosis, which names the primary's setting, about the secondary. */
function asSecondary(text: string): string {
  return text
    .replace(/^Client Secret \(MAILGATE_CLIENT_SECRET\) /, 'The secondary client secret ')
    .replaceAll('Client Secret (MAILGATE_CLIENT_SECRET)', 'the secondary client secret (see the Replace step)')
    .replaceAll('the Client Secret setting', 'the secondary client secret')
    .replaceAll('Client Secret is', 'the secondary client secret is')
    .replaceAll('refused the client secret', 'refused the secondary client secret');
}

function secondaryCode(s: SecondaryObservation): string {
  if (s.token.ok) return '';
  const a = s.token.error.token?.aadsts?.[0];
  return a !== undefined ? ` (AADSTS${a})` : ` (${s.token.error.code})`;
}
