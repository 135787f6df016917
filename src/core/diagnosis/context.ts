/**
 * The diagnosis context for a set of Email Settings: the administrator's own IDs that fill the
 * fix texts and commands, plus what a caller learned on the way (the token's oid and roles, the
 * From address). One builder for the worker, the CLI, the admin test email and the doctor.
 *
 * Imports: nothing outside src/core.
 */
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
