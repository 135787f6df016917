/**
 * The diagnosis context for a set of Email Settings: the administrator's own IDs that fill the
 * fix texts and commands, plus what a caller learned on the way (the token's oid and roles, the
 * From address). One builder for the worker, the CLI, the admin test email and the doctor.
 *
 * A mailer that failed after it had a token (SMTP AUTH or later) puts the token's `oid` and
 * `roles` into the error's context (`tokenOid`, `tokenRoles`: see src/mailer.ts), so the
 * worker and the test email fill the real oid into `New-ServicePrincipal -ObjectId` as the
 * doctor and `mailgate send` do, even when the error crossed from the delivery thread.
 *
 * Imports: nothing outside src/core.
 */
import { isMailgateError } from '../errors.js';
import type { EmailSettings } from '../settings.js';
import type { DiagnosisContext } from './types.js';

export function contextFor(settings: EmailSettings, learned: { oid?: string; from?: string; roles?: string[] } = {}): DiagnosisContext {
  return {
    clientId: settings.clientId,
    tenantId: settings.tenantId,
    authorizedFrom: settings.authorizedFrom,
    from: learned.from,
    smtpHost: settings.smtpHost,
    smtpPort: settings.smtpPort,
    authorityHost: settings.authorityHost,
    scope: settings.scope,
    servicePrincipalObjectId: learned.oid,
    tokenRoles: learned.roles,
  };
}

/** The token facts a mailer attached to its error (see the header), as `contextFor` takes them. */
export function learnedFromError(error: unknown): { oid?: string; roles?: string[] } {
  if (!isMailgateError(error)) return {};
  const oid = error.context.tokenOid;
  const roles = error.context.tokenRoles;
  return {
    oid: typeof oid === 'string' && oid ? oid : undefined,
    roles: typeof roles === 'string' ? roles.split(' ').filter(Boolean) : undefined,
  };
}
