/**
 * Structured logging with redaction built into the logger.
 *
 * Why: a secret, an access token or an XOAUTH2 string must never reach a log line at any
 * level, `debug` included. Redaction happens here, once, not at call sites: pino's `redact`
 * removes known secret-bearing paths, the `Secret` type prints `[redacted]`, and every string
 * value passes through `scrubText` (JWT-shaped values, AUTH initial responses).
 *
 * Logs go to stderr (stdout is reserved for command output such as `--json` results and
 * ready lines). Level from MAILGATE_LOG_LEVEL (default `info`).
 */
import { pino, type Logger } from 'pino';
import { scrubText } from '../core/secret.js';

export type { Logger } from 'pino';

const REDACT_PATHS = [
  'clientSecret', '*.clientSecret', 'smtpPassword', '*.smtpPassword', 'password', '*.password',
  'accessToken', '*.accessToken', 'access_token', '*.access_token', 'token', '*.token',
  'client_secret', '*.client_secret', 'client_assertion', '*.client_assertion', 'privateKey', '*.privateKey',
  'clientCertificatePem', '*.clientCertificatePem', 'authorization', '*.authorization', 'headers.authorization',
  'key', '*.key', 'masterKey', '*.masterKey', 'apiKey', '*.apiKey',
];

function scrubDeep(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return scrubText(v, []);
  if (depth > 6 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => scrubDeep(x, depth + 1));
  if (v instanceof Error) return { type: v.name, message: scrubText(v.message, []), code: (v as { code?: unknown }).code };
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = scrubDeep(x, depth + 1);
  return out;
}

export interface LoggerOptions {
  level?: string;
  /** A writable destination (tests pass a stream to capture lines); default stderr. */
  destination?: NodeJS.WritableStream;
  name?: string;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.MAILGATE_LOG_LEVEL ?? 'info';
  return pino(
    {
      name: options.name ?? 'mailgate',
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: {
        log: (obj) => scrubDeep(obj) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === 'string' ? scrubText(a, []) : a));
          return method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
    },
    (options.destination ?? process.stderr) as pino.DestinationStream,
  );
}

/** A logger that discards everything (for library use without logging). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
