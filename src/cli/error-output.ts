/**
 * How a failure is shown by the CLI: as the JSON object of `--json`, or as readable text.
 * Both carry the error code, the phase, the raw server reply and the diagnosis with its fixes.
 * Shared by `send`, `doctor` and the service commands so every failure reads the same way.
 */
import type { MailgateError, Problem } from '../core/errors.js';
import type { Diagnosis } from '../core/diagnosis/types.js';
export { asMailgateError } from '../core/internal-error.js';
import { EXIT } from './exit-codes.js';

/** 2 when nothing was attempted (invalid settings or arguments), 1 for any other failure. */
export function exitCodeFor(err: MailgateError): number {
  return err.code !== 'INTERNAL' && (err.phase === 'settings' || err.phase === 'arguments') ? EXIT.INVALID : EXIT.FAILED;
}

export interface ErrorJson {
  code: string;
  phase: string;
  retryable: boolean;
  message: string;
  reply?: string;
  problems?: { key: string; env?: string; message: string }[];
  diagnosis?: Diagnosis;
}

export function errorToJson(err: MailgateError, diagnosis?: Diagnosis): ErrorJson {
  const out: ErrorJson = { code: err.code, phase: err.phase, retryable: err.retryable, message: err.message };
  if (err.reply) out.reply = err.reply;
  if (err.problems) out.problems = err.problems.map((p) => ({ key: p.key, ...(p.env ? { env: p.env } : {}), message: p.message }));
  if (diagnosis && err.phase !== 'settings' && err.phase !== 'arguments') out.diagnosis = diagnosis;
  return out;
}

export function renderProblems(title: string, problems: Problem[]): string {
  return [title, ...problems.map((p) => `  - ${p.message}`)].join('\n') + '\n';
}

export function renderDiagnosis(d: Diagnosis, indent = ''): string {
  const lines: string[] = [`${indent}Diagnosis: ${d.summary}`];
  if (d.causes.length) {
    lines.push(`${indent}Likely causes:`);
    for (const c of d.causes) lines.push(`${indent}  - ${c}`);
  }
  if (d.fixes.length) {
    lines.push(`${indent}How to fix:`);
    d.fixes.forEach((f, i) => lines.push(`${indent}  ${i + 1}. ${f}`));
  }
  if (d.commands?.length) {
    lines.push(`${indent}Commands:`);
    for (const c of d.commands) lines.push(`${indent}  ${c}`);
  }
  if (d.docs?.length) lines.push(`${indent}See: ${d.docs.join(' , ')}`);
  return lines.join('\n') + '\n';
}

export function renderError(err: MailgateError, diagnosis?: Diagnosis): string {
  if (err.problems?.length) return renderProblems(`✗ ${err.phase === 'settings' ? 'Invalid settings' : 'Invalid arguments'} (${err.code}):`, err.problems);
  let out = `✗ Failed at ${err.phase} (${err.code}): ${err.message}\n`;
  if (err.reply) out += `  Server reply: ${err.reply}\n`;
  if (diagnosis) out += renderDiagnosis(diagnosis, '  ');
  return out;
}
