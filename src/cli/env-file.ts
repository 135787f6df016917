/**
 * Environment files for `--env-file FILE`: `mailgate emulator` writes one (mode 0600: it holds a
 * client secret), `mailgate send` and `mailgate doctor` read one.
 *
 * Why it exists: pointing the CLI at the emulator takes nine variables; a file the emulator
 * writes and the other commands read is harder to get wrong than copying them by hand. The file
 * is untrusted input and is parsed strictly, never evaluated by a shell: `KEY=VALUE` lines, an
 * optional leading `export `, blank lines and `#` comments; a value is bare (no spaces, quotes,
 * `$`, backticks, backslashes or shell operators), 'single-quoted' (literal) or "double-quoted"
 * (only \" and \\ escapes; `$` and backticks refused, because a shell would expand them and the
 * file must mean the same to `source` as to Mailgate). A problem names the line and the key,
 * never the value (it may be a secret). Bounded (64 KiB, a regular file); a key given twice is
 * refused.
 *
 * Imports: node:fs, ../config/bounded-file (the read).
 */
import { lstatSync, renameSync, writeFileSync, unlinkSync } from 'node:fs';
import { BoundedFileError, readBoundedFileSync } from '../config/bounded-file.js';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export const MAX_ENV_FILE_BYTES = 64 * 1024;

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** What may stand bare: no whitespace, quotes, `$`, backtick, backslash, or shell operators. */
const BARE = /^[^\s'"`$\\;&|<>(){}*?!#]*$/;

export class EnvFileError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}: ${problems.join('; ')}`);
  }
}

/** Parses the text of an env file; throws EnvFileError listing every problem. */
export function parseEnvText(text: string, file = 'env file'): Record<string, string> {
  const out: Record<string, string> = {};
  const problems: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const body = line.startsWith('export ') ? line.slice(7).trimStart() : line;
    const eq = body.indexOf('=');
    if (eq <= 0) {
      problems.push(`line ${n}: expected KEY=VALUE`);
      return;
    }
    const key = body.slice(0, eq);
    if (!KEY.test(key)) {
      problems.push(`line ${n}: "${key.slice(0, 40)}" is not a variable name`);
      return;
    }
    const value = parseValue(body.slice(eq + 1));
    if (typeof value !== 'string') {
      problems.push(`line ${n}: the value of ${key} ${value.problem}`);
      return;
    }
    if (Object.hasOwn(out, key)) {
      problems.push(`line ${n}: ${key} is set twice`);
      return;
    }
    out[key] = value;
  });
  if (problems.length) throw new EnvFileError(file, problems);
  return out;
}

/** A value, or why it cannot be read without a shell. Allows a trailing ` # comment`. */
function parseValue(rest: string): string | { problem: string } {
  const quote = rest[0];
  if (quote === "'" || quote === '"') {
    let value = '';
    let i = 1;
    for (; i < rest.length; i++) {
      const ch = rest[i]!;
      if (ch === quote) break;
      if (quote === '"') {
        if (ch === '$' || ch === '`') return { problem: 'contains $ or a backtick, which a shell would expand (use single quotes)' };
        if (ch === '\\') {
          const next = rest[i + 1];
          if (next !== '"' && next !== '\\') return { problem: 'has a backslash escape other than \\" or \\\\' };
          value += next;
          i++;
          continue;
        }
      }
      value += ch;
    }
    if (i >= rest.length) return { problem: 'has no closing quote (values span one line)' };
    const after = rest.slice(i + 1).trim();
    if (after !== '' && !after.startsWith('#')) return { problem: 'has text after the closing quote' };
    return value;
  }
  const hash = rest.search(/\s#/);
  const bare = (hash === -1 ? rest : rest.slice(0, hash)).trim();
  if (!BARE.test(bare)) return { problem: 'must be quoted (it has spaces, quotes, $, backticks, backslashes or shell operators)' };
  return bare;
}

/** Reads and parses an env file: a regular file of at most 64 KiB (config/bounded-file). Throws EnvFileError. */
export function readEnvFile(file: string): Record<string, string> {
  let text: string;
  try {
    text = readBoundedFileSync(file, MAX_ENV_FILE_BYTES).toString('utf8');
  } catch (err) {
    throw new EnvFileError(file, [boundedFileProblem(err, `${MAX_ENV_FILE_BYTES / 1024} KiB`)]);
  }
  return parseEnvText(text, file);
}

/** A refused read (config/bounded-file) as the short problem the CLI shows after the file name. */
export function boundedFileProblem(err: unknown, limit: string): string {
  if (err instanceof BoundedFileError && err.reason === 'not-a-regular-file') return err.message.slice(err.path.length + 1); // "is not a regular file (it is …)"
  if (err instanceof BoundedFileError && err.reason === 'too-large') return `is larger than ${limit}`;
  const cause = err instanceof BoundedFileError ? err.cause : err;
  return `cannot be read (${(cause as NodeJS.ErrnoException)?.code ?? (err as Error).message})`;
}

/** One `KEY='value'` (or bare) assignment; values with a `'` or a line break are refused. */
export function formatAssignment(key: string, value: string): string {
  if (!KEY.test(key)) throw new Error(`${key} is not a variable name`);
  if (/['\r\n]/.test(value)) throw new Error(`the value of ${key} cannot be written to an env file (it has a quote or a line break)`);
  return `${key}=${value !== '' && BARE.test(value) ? value : `'${value}'`}`;
}

/** The text of an env file (every line also valid shell: `export KEY=value`). */
export function formatEnvFile(vars: Record<string, string>, header: string[] = []): string {
  return [...header.map((h) => `# ${h}`), ...Object.entries(vars).map(([k, v]) => `export ${formatAssignment(k, v)}`)].join('\n') + '\n';
}

/**
 * Writes an env file with mode 0600 (it holds a secret), atomically: a new file in the same
 * directory renamed over the target, so an existing file's wider mode is never kept. Refuses to
 * replace anything but a regular file.
 */
export function writeEnvFile(file: string, text: string): void {
  try {
    if (!lstatSync(file).isFile()) throw new EnvFileError(file, ['exists and is not a regular file']);
  } catch (err) {
    if (err instanceof EnvFileError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* never created */
    }
    throw err;
  }
}
