/**
 * Scripted faults for reliability tests: the token endpoint answering 503/429 (with
 * Retry-After) or slowly, the SMTP greeting that never comes, a connection dropped in the
 * middle of DATA, and transient `421`/`451` replies to the next N commands.
 *
 * Why it exists: retry, back-off and timeout code can only be tested against a server that
 * fails on cue. Faults are plain JSON (`POST {admin}/faults`, `setFaults()`), validated here;
 * each has an optional `count` (how many times it fires; omitted = until cleared).
 *
 * Fault JSON (every key optional; POST replaces the whole set, DELETE clears it):
 * {
 *   "tokenError":     {"status": 503, "count": 2, "retryAfterSeconds": 1},
 *   "tokenDelay":     {"ms": 1500, "count": 1},
 *   "smtpNoGreeting": {"count": 1},
 *   "smtpDropInData": {"count": 1},
 *   "smtpTransient":  {"code": 451, "count": 1, "command": "MAIL", "message": "4.7.0 ..."}
 * }
 * `smtpTransient.command` is an SMTP verb (EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, ...) or
 * `EOM` (the reply to the end of the message); omitted = any command.
 *
 * Imports: zod.
 */
import { z } from 'zod';

const count = z.number().int().positive().optional();

export const faultsSchema = z.strictObject({
  tokenError: z.strictObject({
    status: z.number().int().min(400).max(599),
    count,
    /** Seconds for the Retry-After header (default 1; 0 omits the header). */
    retryAfterSeconds: z.number().int().nonnegative().optional(),
  }).optional(),
  tokenDelay: z.strictObject({ ms: z.number().int().nonnegative().max(600_000), count }).optional(),
  smtpNoGreeting: z.strictObject({ count }).optional(),
  smtpDropInData: z.strictObject({ count }).optional(),
  smtpTransient: z.strictObject({
    code: z.number().int().min(400).max(499),
    count,
    command: z.string().regex(/^[A-Za-z]{3,10}$/).optional(),
    /** The reply text after the code; defaults to Exchange's text for 421 and 451. */
    message: z.string().min(1).max(400).regex(/^[^\r\n]*$/).optional(),
  }).optional(),
});

export type Faults = z.output<typeof faultsSchema>;

export type ParseFaultsResult = { ok: true; faults: Faults } | { ok: false; problems: string[] };

export function parseFaults(input: unknown): ParseFaultsResult {
  const result = faultsSchema.safeParse(input);
  if (result.success) return { ok: true, faults: result.data };
  return { ok: false, problems: result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`) };
}

/** The default reply text of a transient fault (Exchange's own wording, observed on the wire). */
export function defaultTransientText(code: number, host: string): string {
  if (code === 451) return `4.7.0 Temporary server error. Please try again later. PRX4 [${host}]`;
  return `4.3.2 Service not active [${host}]`;
}

/** Holds the active faults and counts them down as they fire. */
export class FaultController {
  #faults: Faults = {};

  set(faults: Faults): void {
    this.#faults = structuredClone(faults);
  }

  clear(): void {
    this.#faults = {};
  }

  /** The faults still active, with the remaining counts. */
  current(): Faults {
    return structuredClone(this.#faults);
  }

  /** Consumes one firing of a fault; removes it when its count reaches zero. */
  #take<K extends keyof Faults>(key: K): NonNullable<Faults[K]> | undefined {
    const fault = this.#faults[key];
    if (!fault) return undefined;
    if (fault.count !== undefined) {
      if (fault.count <= 1) delete this.#faults[key];
      else fault.count -= 1;
    }
    return fault as NonNullable<Faults[K]>;
  }

  takeTokenError(): { status: number; retryAfterSeconds: number } | undefined {
    const fault = this.#take('tokenError');
    return fault && { status: fault.status, retryAfterSeconds: fault.retryAfterSeconds ?? 1 };
  }

  takeTokenDelay(): number {
    return this.#take('tokenDelay')?.ms ?? 0;
  }

  takeNoGreeting(): boolean {
    return this.#take('smtpNoGreeting') !== undefined;
  }

  takeDropInData(): boolean {
    return this.#take('smtpDropInData') !== undefined;
  }

  /** A transient reply for this command (verb upper-case, or `EOM`), if one is scripted for it. */
  takeTransient(verb: string): { code: number; message?: string } | undefined {
    const fault = this.#faults.smtpTransient;
    if (!fault || (fault.command && fault.command.toUpperCase() !== verb)) return undefined;
    const taken = this.#take('smtpTransient')!;
    return { code: taken.code, message: taken.message };
  }
}
