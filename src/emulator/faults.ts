/**
 * Scripted faults for reliability tests: the token endpoint answering 503/429 (with
 * Retry-After) or slowly, the SMTP greeting that never comes, a connection dropped in the
 * middle of DATA, transient `421`/`451` replies to the next N commands, and for Graph: an
 * error status (429/503/504 with Retry-After), a slow answer, a connection dropped after the request.
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
 *   "smtpTransient":  {"code": 451, "count": 1, "command": "MAIL", "message": "4.7.0 ..."},
 *   "graphError":     {"status": 429, "count": 1, "retryAfterSeconds": 2, "endpoint": "sendMail"},
 *   "graphDelay":     {"ms": 3000, "count": 1},
 *   "graphDrop":      {"count": 1, "accepted": false}
 * }
 * The Graph faults apply to the emulated Graph's requests (`endpoint`: `sendMail`, `createMessage`,
 * `addAttachment`, `createUploadSession`, `upload` (the PUT to an upload URL), `send`; omitted = any).
 * `graphError` answers with Graph's error body for that status (429 with `Retry-After`);
 * `graphDelay` holds the request (and its concurrency slot) before deciding it, and a request
 * whose client went away meanwhile is dropped undecided; `graphDrop` decides the request and then
 * closes the connection without an answer: `accepted` (default false) says whether the message
 * was nevertheless accepted (the unknown outcome a client must not turn into a duplicate).
 * `smtpTransient.command` is an SMTP verb (EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, ...) or
 * `EOM` (the reply to the end of the message); omitted = any command.
 *
 * Imports: zod.
 */
import { z } from 'zod';

const count = z.number().int().positive().optional();

/** The emulated Graph's operations a Graph fault may be limited to. */
export const GRAPH_ENDPOINTS = ['sendMail', 'createMessage', 'addAttachment', 'createUploadSession', 'upload', 'send'] as const;
export type GraphEndpoint = (typeof GRAPH_ENDPOINTS)[number];
const graphEndpoint = z.enum(GRAPH_ENDPOINTS);

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
  graphError: z.strictObject({
    status: z.number().int().min(400).max(599),
    count,
    /** Seconds for the Retry-After header (default 1; 0 omits the header). */
    retryAfterSeconds: z.number().int().nonnegative().optional(),
    endpoint: graphEndpoint.optional(),
  }).optional(),
  graphDelay: z.strictObject({ ms: z.number().int().nonnegative().max(600_000), count, endpoint: graphEndpoint.optional() }).optional(),
  graphDrop: z.strictObject({ count, accepted: z.boolean().optional(), endpoint: graphEndpoint.optional() }).optional(),
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

  /** Consumes a Graph fault when it applies to `endpoint` (a fault without `endpoint` applies to all). */
  #takeGraph<K extends 'graphError' | 'graphDelay' | 'graphDrop'>(key: K, endpoint: GraphEndpoint): NonNullable<Faults[K]> | undefined {
    const fault = this.#faults[key];
    if (!fault || (fault.endpoint && fault.endpoint !== endpoint)) return undefined;
    return this.#take(key);
  }

  takeGraphError(endpoint: GraphEndpoint): { status: number; retryAfterSeconds: number } | undefined {
    const fault = this.#takeGraph('graphError', endpoint);
    return fault && { status: fault.status, retryAfterSeconds: fault.retryAfterSeconds ?? 1 };
  }

  takeGraphDelay(endpoint: GraphEndpoint): number {
    return this.#takeGraph('graphDelay', endpoint)?.ms ?? 0;
  }

  /** `undefined` when no drop is scripted; else whether the dropped request's message is accepted. */
  takeGraphDrop(endpoint: GraphEndpoint): { accepted: boolean } | undefined {
    const fault = this.#takeGraph('graphDrop', endpoint);
    return fault && { accepted: fault.accepted ?? false };
  }

  /** A transient reply for this command (verb upper-case, or `EOM`), if one is scripted for it. */
  takeTransient(verb: string): { code: number; message?: string } | undefined {
    const fault = this.#faults.smtpTransient;
    if (!fault || (fault.command && fault.command.toUpperCase() !== verb)) return undefined;
    const taken = this.#take('smtpTransient')!;
    return { code: taken.code, message: taken.message };
  }
}
