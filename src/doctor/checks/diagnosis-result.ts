/**
 * Turns a Diagnosis (from src/core/diagnosis) into a failed or warning check, so a check that
 * fails with a MailgateError explains itself exactly as `mailgate send` would: same rule, same
 * wording, same commands with the administrator's values.
 *
 * Why it exists: every network check ends the same way on failure; one helper keeps the report
 * fields (`fix` as one step per line, `commands`, `details.diagnosis/causes/docs`) consistent.
 *
 * Imports: src/core (errors, diagnosis types), ../fix-commands, ../types.
 */
import type { MailgateError } from '../../core/errors.js';
import type { Diagnosis } from '../../core/diagnosis/types.js';
import { joinFix } from '../fix-commands.js';
import type { CheckId, CheckResult, CheckStatus } from '../types.js';

export interface FromDiagnosisOptions {
  status?: Extract<CheckStatus, 'fail' | 'warn'>;
  /** Replaces the diagnosis summary (the check knows more). */
  summary?: string;
  /** Fix steps shown before the diagnosis' own. */
  fixBefore?: readonly string[];
  /** Replaces the diagnosis' fixes entirely. */
  fix?: readonly string[];
  /** Replaces the diagnosis' commands. */
  commands?: readonly string[];
  /** Replaces the diagnosis' likely causes (the check found the one cause). */
  causes?: readonly string[];
  details?: Record<string, unknown>;
}

/** The safe facts of an error for `details`: its code, phase and the server's reply line. */
export function errorDetails(err: MailgateError | undefined): Record<string, unknown> {
  if (!err) return {};
  const d: Record<string, unknown> = { error: err.code, phase: err.phase };
  if (err.reply) d.reply = err.reply;
  // An unexpected error has no server reply: its message is the only clue (the report is
  // scrubbed of the secrets as a whole before it is shown).
  if (err.code === 'INTERNAL') d.message = err.message;
  if (err.smtp?.command) d.command = err.smtp.command;
  if (err.token) {
    if (err.token.status) d.httpStatus = err.token.status;
    if (err.token.error) d.oauthError = err.token.error;
    if (err.token.aadsts?.length) d.aadsts = err.token.aadsts;
    if (err.token.traceId) d.traceId = err.token.traceId;
    if (err.token.correlationId) d.correlationId = err.token.correlationId;
  }
  return d;
}

export function checkFromDiagnosis(id: CheckId, d: Diagnosis, err: MailgateError | undefined, o: FromDiagnosisOptions = {}): CheckResult {
  const fix = joinFix([...(o.fixBefore ?? []), ...(o.fix ?? d.fixes)]);
  const commands = o.commands ?? d.commands;
  const result: CheckResult = {
    id,
    status: o.status ?? 'fail',
    summary: o.summary ?? d.summary,
  };
  if (fix) result.fix = fix;
  if (commands?.length) result.commands = [...commands];
  result.details = {
    ...errorDetails(err),
    ...o.details,
    diagnosis: d.id,
    ...((o.causes ?? d.causes).length ? { causes: [...(o.causes ?? d.causes)] } : {}),
    ...(d.docs?.length ? { docs: d.docs } : {}),
  };
  return result;
}
