/**
 * The emulator's admin log: one entry per token request, one per Graph request, and one per SMTP session (its commands
 * with their replies, whether TLS was active at AUTH, the decoded XOAUTH2 `user=`, and the real
 * reason behind a deliberately vague `535 5.7.3`). Served at `GET {admin}/log` and `log()`.
 *
 * Why it exists: Exchange never says which check failed, but tests (and people debugging a
 * set-up with the emulator) need to. Secrets never enter this log: AUTH arguments and
 * continuation lines are replaced by `<redacted>` before they are recorded, token requests
 * record which kind of credential was sent but not the credential.
 *
 * Imports: nothing.
 */

export interface TokenLogEntry {
  kind: 'token';
  at: string;
  tenant: string;
  tenantId?: string;
  clientId?: string;
  grantType?: string;
  scope?: string;
  credential?: 'secret' | 'certificate' | 'none';
  status: number;
  /** `error` of an Entra error body. */
  error?: string;
  aadsts?: number;
  /** Why the request failed (or which fault answered it). */
  reason?: string;
}

export interface SmtpCommandRecord {
  at: string;
  /** The command line, with credentials replaced by `<redacted>`. */
  command: string;
  /** The reply line(s) sent, joined with "\n". */
  reply?: string;
}

export interface SmtpAuthRecord {
  method: string;
  /** The `user=` of XOAUTH2 or the LOGIN/PLAIN user name. */
  user?: string;
  tlsActive: boolean;
  result: 'success' | 'failure';
  reply: string;
  /** The real reason for a refusal (Exchange's reply does not say). */
  reason?: string;
  /** Claims of the presented token that decided the outcome (never the token itself). */
  token?: { aud?: string; tid?: string; oid?: string; appid?: string; roles?: string[] };
}

export interface SmtpSessionLogEntry {
  kind: 'smtp';
  id: string;
  at: string;
  endedAt?: string;
  remoteAddress: string;
  tls: boolean;
  authenticatedAs?: string;
  auth: SmtpAuthRecord[];
  commands: SmtpCommandRecord[];
  /** Ids of the messages accepted in this session. */
  messages: string[];
  /** Anything else worth knowing (faults that fired, rejections with reasons). */
  notes: string[];
}

/** One request to the emulated Graph (never the token or the message body). */
export interface GraphLogEntry {
  kind: 'graph';
  at: string;
  method: string;
  /** The path without the query (an upload URL's `authtoken` is never logged). */
  path: string;
  endpoint: string;
  requestId: string;
  clientRequestId: string;
  /** The mailbox named by `/users/{id}`, as resolved (or as sent when unknown). */
  mailbox?: string;
  status: number;
  /** `error.code` of an error answer. */
  error?: string;
  /** Why the request was refused (Graph's answer is sometimes vague), or which fault answered it. */
  reason?: string;
  /** Claims of the presented token that decided the outcome. */
  token?: { aud?: string; tid?: string; oid?: string; appid?: string; roles?: string[] };
  /** The id of the stored message, when one was accepted. */
  messageId?: string;
}

export type LogEntry = TokenLogEntry | SmtpSessionLogEntry | GraphLogEntry;

const MAX_ENTRIES = 2000;
const MAX_COMMANDS_PER_SESSION = 500;

/** A bounded, in-memory list of log entries (oldest dropped first). */
export class ActivityLog {
  readonly #entries: LogEntry[] = [];

  add<T extends LogEntry>(entry: T): T {
    this.#entries.push(entry);
    if (this.#entries.length > MAX_ENTRIES) this.#entries.splice(0, this.#entries.length - MAX_ENTRIES);
    return entry;
  }

  /** Records a command in a session (with its credentials already redacted by the caller). */
  command(session: SmtpSessionLogEntry, command: string): SmtpCommandRecord | undefined {
    if (session.commands.length >= MAX_COMMANDS_PER_SESSION) return undefined;
    const record = { at: new Date().toISOString(), command };
    session.commands.push(record);
    return record;
  }

  entries(): LogEntry[] {
    return structuredClone(this.#entries);
  }

  clear(): void {
    this.#entries.length = 0;
  }
}

/** Redacts an SMTP command line for the log: AUTH keeps its mechanism only. */
export function redactCommand(line: string): string {
  const trimmed = line.length > 512 ? `${line.slice(0, 512)}...(${line.length} bytes)` : line;
  const match = /^(AUTH)\s+(\S+)(\s+\S.*)?$/i.exec(line.trim());
  if (match) return match[3] ? `${match[1]} ${match[2]} <redacted>` : `${match[1]} ${match[2]}`;
  return trimmed;
}
