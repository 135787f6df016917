/**
 * Reading the doctor's report as the admin page receives it (`deps.runDiagnostics` resolves to
 * `unknown`: the same JSON as `mailgate doctor --json`), and finding the service principal's
 * object id in it.
 *
 * Why: the page must not trust the shape of what it renders; a report that does not match is
 * shown as an error instead of half a page. The object id for `New-ServicePrincipal` is the
 * access token's `oid` claim (the Enterprise Application's object id), which the doctor's
 * token-claims check reports; it is carried into the set-up script link.
 *
 * Imports: zod, src/doctor types.
 */
import { z } from 'zod';
import type { DoctorReport } from '../../doctor/index.js';
import { isGuid } from '../../core/settings.js';

const checkSchema = z.object({
  id: z.string(),
  status: z.enum(['pass', 'fail', 'warn', 'skip']),
  summary: z.string(),
  fix: z.string().optional(),
  commands: z.array(z.string()).optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
const reportSchema = z.object({ ok: z.boolean(), checks: z.array(checkSchema) });

export function parseDoctorReport(value: unknown): DoctorReport | undefined {
  const r = reportSchema.safeParse(value);
  return r.success ? (r.data as DoctorReport) : undefined;
}


/** The Enterprise Application object id the report learned (the token's oid), if any. */
export function servicePrincipalObjectId(report: DoctorReport): string | undefined {
  const oid = report.checks.find((c) => c.id === 'token-claims')?.details?.oid;
  return typeof oid === 'string' && isGuid(oid) ? oid.toLowerCase() : undefined;
}


/** The step names as the page shows them. */
export const CHECK_TITLES: Record<string, string> = {
  settings: 'Settings',
  dns: 'DNS lookup',
  tcp: 'TCP connection',
  starttls: 'STARTTLS',
  token: 'Access token',
  'token-claims': 'Token claims',
  'smtp-auth': 'SMTP AUTH sign-in',
  send: 'Test message',
  'graph-reach': 'Microsoft Graph reachable',
  'send-as': 'Send As',
  'graph-token': 'Microsoft Graph token',
  'graph-send': 'Graph test message',
  'auto-route': 'Automatic routing',
  relay: 'SMTP relay',
};
