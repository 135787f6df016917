/**
 * Structured logging with redaction built into the logger.
 *
 * Why: a secret, an access token or an XOAUTH2 string must never reach a log line at any
 * level, `debug` included. Redaction happens here, once, not at call sites: pino's `redact`
 * removes known secret-bearing paths, the `Secret` type prints `[redacted]`, and every string
 * value passes through `scrubText` (JWT-shaped values, AUTH initial responses).
 *
 * Logs go to stderr (stdout is reserved for command output such as `--json` results and
 * ready lines). Level from MAILGATE_LOG_LEVEL (default `info`). Format from
 * MAILGATE_LOG_FORMAT: `json` (one pino JSON object per line, the default: what log shippers
 * read) or `pretty` (./pretty.ts, short human-readable lines; `mailgate dev`'s default).
 * A log line that cannot be written (stderr on a full disk, a pipe whose reader went away) is
 * lost; it never ends the process (see `holdStderrErrors`).
 */
import { pino, type Logger } from 'pino';
import { scrubDeep, scrubText } from '../core/secret.js';
import { prettyDestination } from './pretty.js';

export type { Logger } from 'pino';

const REDACT_PATHS = [
  'clientSecret', '*.clientSecret', 'smtpPassword', '*.smtpPassword', 'password', '*.password',
  'accessToken', '*.accessToken', 'access_token', '*.access_token', 'token', '*.token',
  'client_secret', '*.client_secret', 'client_assertion', '*.client_assertion', 'privateKey', '*.privateKey',
  'clientCertificatePem', '*.clientCertificatePem', 'authorization', '*.authorization', 'headers.authorization',
  'key', '*.key', 'masterKey', '*.masterKey', 'apiKey', '*.apiKey',
];

/**
 * Where the secret values in effect come from (the service's settings, the CLI's environment).
 * Every logger removes them from every string it writes, whatever the field: a library error
 * message that quotes a secret cannot reach the log.
 */
const secretSources = new Set<() => Iterable<string>>();

/** Register a source of secret values to scrub from every log line; returns its removal. */
export function addLogSecretSource(source: () => Iterable<string>): () => void {
  secretSources.add(source);
  return () => void secretSources.delete(source);
}

function secretsInEffect(): string[] {
  const out: string[] = [];
  for (const source of secretSources) {
    try {
      for (const v of source()) if (v) out.push(v);
    } catch {
      /* a failing source must not stop logging */
    }
  }
  return out;
}

export interface LoggerOptions {
  level?: string;
  /** A writable destination (tests pass a stream to capture lines); default stderr. */
  destination?: NodeJS.WritableStream;
  name?: string;
  /** `json` or `pretty`; default MAILGATE_LOG_FORMAT, else `json`. */
  format?: string;
}

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The log format from an option or MAILGATE_LOG_FORMAT; throws naming the variable when unknown. */
export function logFormat(value: string | undefined = process.env.MAILGATE_LOG_FORMAT, fallback: LogFormat = 'json'): LogFormat {
  if (value === undefined || value === '') return fallback;
  if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  throw new Error(`MAILGATE_LOG_FORMAT must be json or pretty (was ${JSON.stringify(value.slice(0, 40))}).`);
}

let stderrErrorsHeld = false;

/**
 * Node reports a failed write to stderr (a log file on a full disk: ENOSPC; `serve 2>&1 | tee`
 * with tee gone: EPIPE) as an 'error' event on process.stderr, and unheard that is an uncaught
 * exception: the service ended at its first log line, although a full disk is meant to be a 503.
 * Held here, the line is lost, and so are the later ones (Node destroys the stream on error).
 * Also called by the CLI (cli/lost-output.ts) for what its commands write to stderr themselves.
 */
export function holdStderrErrors(): void {
  if (stderrErrorsHeld) return;
  stderrErrorsHeld = true;
  process.stderr.on('error', () => undefined);
}

export function createLogger(options: LoggerOptions = {}): Logger {
  if (!options.destination) holdStderrErrors();
  const level = options.level ?? process.env.MAILGATE_LOG_LEVEL ?? 'info';
  return pino(
    {
      name: options.name ?? 'mailgate',
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // formatters.log (below) runs before serializers and already turned every Error into
      // {type, message, stack, …} with secrets scrubbed; pino's own err serializer would read
      // that plain object as an error of type "Object" with an empty stack.
      serializers: { err: (e: unknown) => (e instanceof Error ? scrubDeep(e, secretsInEffect()) : e) },
      formatters: {
        log: (obj) => scrubDeep(obj, secretsInEffect()) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const secrets = secretsInEffect();
          const scrubbed = args.map((a) => (typeof a === 'string' ? scrubText(a, secrets) : a));
          return method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
    },
    (logFormat(options.format) === 'pretty' ? prettyDestination(options.destination ?? process.stderr) : options.destination ?? process.stderr) as pino.DestinationStream,
  );
}

/** A logger that discards everything (for library use without logging). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
