/**
 * The human form of a DoctorReport: one line per check with a clear mark, then the fixes with
 * their commands, ready to copy. Colour only when asked (the CLI asks on a TTY without NO_COLOR).
 *
 * Why it exists: the JSON report is the contract; this is its one text rendering, shared by the
 * CLI and anything else that wants the same text (logs, the admin page's plain-text copy).
 * Pure: returns a string.
 *
 * Imports: ./types only.
 */
import { CHECK_IDS, type CheckResult, type CheckStatus, type DoctorReport } from './types.js';

export interface RenderOptions {
  /** ANSI colours (default false). */
  color?: boolean;
  /** Print each check's details as indented `key: value` lines (default false). */
  verbose?: boolean;
}

const MARK: Record<CheckStatus, string> = { pass: '✓', fail: '✗', warn: '!', skip: '-' };
const WORD: Record<CheckStatus, string> = { pass: 'pass', fail: 'FAIL', warn: 'warn', skip: 'skip' };
const COLOR: Record<CheckStatus, string> = { pass: '32', fail: '31', warn: '33', skip: '90' };

function paint(text: string, code: string, on: boolean): string {
  return on ? `\x1b[${code}m${text}\x1b[0m` : text;
}

const ID_WIDTH = Math.max(...CHECK_IDS.map((id) => id.length));

function detailLines(details: Record<string, unknown>, indent: string): string[] {
  return Object.entries(details).map(([k, v]) => `${indent}${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
}

function renderFix(c: CheckResult, color: boolean): string[] {
  const lines = [paint(`${MARK[c.status]} ${c.id}`, COLOR[c.status], color) + (c.status === 'warn' ? ' (warning)' : '')];
  // The diagnosis' likely causes, as `mailgate send` prints them (issue 13 item 17).
  const causes = Array.isArray(c.details?.causes) ? c.details.causes.filter((x): x is string => typeof x === 'string') : [];
  if (causes.length) {
    lines.push('  Likely causes:');
    for (const cause of causes) lines.push(`    - ${cause}`);
    if (c.fix) lines.push('  How to fix:');
  }
  for (const step of (c.fix ?? '').split('\n').filter(Boolean)) lines.push(`  ${step}`);
  if (c.commands?.length) {
    lines.push('  Commands:');
    for (const cmd of c.commands) lines.push(`    ${cmd}`);
  }
  return lines;
}

/**
 * The report as text: the check lines, then "How to fix" with each failed or warning check's
 * likely causes (when its diagnosis has them), fix and commands.
 */
export function renderReport(report: DoctorReport, options: RenderOptions = {}): string {
  const color = options.color ?? false;
  const out: string[] = [];
  if (report.sender) {
    const { from, signInAs } = report.sender;
    out.push(from.toLowerCase() === signInAs.toLowerCase() ? `Sender ${from}` : `Sender ${from}, signed in as ${signInAs} (Send As)`, '');
  }
  for (const c of report.checks) {
    const mark = paint(`${MARK[c.status]} ${WORD[c.status]}`, COLOR[c.status], color);
    out.push(`${mark}  ${c.id.padEnd(ID_WIDTH)}  ${c.summary}`);
    if (options.verbose && c.details) out.push(...detailLines(c.details, ' '.repeat(8 + ID_WIDTH)));
  }
  const toFix = report.checks.filter((c) => (c.status === 'fail' || c.status === 'warn') && (c.fix || c.commands?.length));
  const failed = report.checks.filter((c) => c.status === 'fail').length;
  const warned = report.checks.filter((c) => c.status === 'warn').length;
  out.push('');
  out.push(
    report.ok
      ? paint(warned ? `No check failed (${warned} warning${warned === 1 ? '' : 's'}).` : 'All checks passed.', report.ok ? COLOR.pass : COLOR.fail, color)
      : paint(`${failed} check${failed === 1 ? '' : 's'} failed${warned ? `, ${warned} warning${warned === 1 ? '' : 's'}` : ''}.`, COLOR.fail, color),
  );
  if (toFix.length) {
    out.push('', 'How to fix:');
    // Failures first (in check order), then warnings.
    for (const c of [...toFix.filter((c) => c.status === 'fail'), ...toFix.filter((c) => c.status === 'warn')]) {
      out.push('', ...renderFix(c, color));
    }
  }
  return out.join('\n') + '\n';
}
