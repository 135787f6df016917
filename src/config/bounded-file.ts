/**
 * Reading a file that a setting or a command-line flag names (the client certificate,
 * MAILGATE_CA_FILE, `--env-file`, `--attach`, the emulator's `--state`): only a
 * regular file of bounded size (64 KB for a setting, 1 MiB for a CA bundle; the caller's limit for
 * a flag), and never in
 * a way that can block or exhaust the process.
 *
 * Why: a path is untrusted input (an admin key can set `clientCertificatePath`). Read naively,
 * `/dev/urandom` blocks the event loop and fills the heap, a FIFO hangs the read forever, a
 * directory or a huge file fails late and confusingly. So the file is opened with O_NONBLOCK (a
 * FIFO opens at once instead of waiting for a writer), the *opened descriptor* is fstat'ed (no
 * race between a check of the path and the read), anything but a regular file within the limit
 * is refused before a byte is read, and at most the fstat size + 1 bytes are read (a file that
 * grew after the fstat is refused too). Every caller that reads a file named by a setting or a
 * flag goes through here (the CLI once had three readers of its own that opened a FIFO without
 * O_NONBLOCK and hung).
 *
 * `readBoundedFile` (async, off the event loop) is the one to use. `readBoundedFileSync` exists
 * only for the synchronous mailer construction (`createTokenProvider`, which the CLI and the
 * delivery thread's preflight call) and the CLI's one-shot commands, which read their files
 * before anything else runs: with the same checks it reads at most the limit of a regular file,
 * so it can neither hang nor run long, whatever the path names by then.
 *
 * Imports: node:fs only.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';

/** The most a file named by a setting may hold (a certificate chain with its key is ~5 KB). */
export const SETTINGS_FILE_LIMIT = 64 * 1024;

/**
 * The most an extra trusted CA file (MAILGATE_CA_FILE, for `serve` and the CLI alike) may hold: a
 * whole CA bundle (Debian's ca-certificates.crt is ~220 KB), with room for growth.
 */
export const CA_BUNDLE_FILE_LIMIT = 1024 * 1024;

export type BoundedFileReason = 'not-a-regular-file' | 'too-large' | 'unreadable';

/** Why a file named by a setting was refused; `message` starts with the path and reads as a reason. */
export class BoundedFileError extends Error {
  override readonly name = 'BoundedFileError';
  constructor(
    readonly reason: BoundedFileReason,
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// O_NONBLOCK: a FIFO opens without waiting for a writer (and is then refused by fstat);
// O_NOCTTY: a terminal named by a path never becomes the controlling terminal.
const FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | (constants.O_NOCTTY ?? 0);

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function limitText(limit: number): string {
  if (limit % (1024 * 1024) === 0) return `${limit / (1024 * 1024)} MiB`;
  return limit % 1024 === 0 ? `${limit / 1024} KB` : `${limit} bytes`;
}

function unreadable(path: string, error: unknown): BoundedFileError {
  const code = (error as NodeJS.ErrnoException)?.code ?? 'error';
  return new BoundedFileError('unreadable', path, `cannot read ${path} (${code})`, { cause: error });
}

/** The refusal for what fstat found, or undefined when the file may be read. */
function refusal(path: string, st: Stats, limit: number): BoundedFileError | undefined {
  if (!st.isFile()) return new BoundedFileError('not-a-regular-file', path, `${path} is not a regular file (it is ${kindOf(st)})`);
  if (st.size > limit) return new BoundedFileError('too-large', path, `${path} is too large (${st.size} bytes; at most ${limitText(limit)})`);
  return undefined;
}

/**
 * The buffer for a file fstat found within the limit: its size and one byte more, which can only
 * fill if the file grew after the fstat. Never the whole limit: callers with a large limit
 * (`mailgate send --attach`, tens of MB) must not allocate it for every small file.
 */
function bufferSize(st: Stats, limit: number): number {
  return Math.min(st.size, limit) + 1;
}

/** A file that grew while it was read: refused (past the limit, too large; else changing under us). */
function grew(path: string, length: number, limit: number): BoundedFileError {
  if (length > limit) return new BoundedFileError('too-large', path, `${path} is too large (more than ${limitText(limit)})`);
  return new BoundedFileError('unreadable', path, `cannot read ${path} (it grew while it was read)`);
}

/** Reads a regular file of at most `limit` bytes without blocking the event loop; throws BoundedFileError. */
export async function readBoundedFile(path: string, limit = SETTINGS_FILE_LIMIT): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, FLAGS);
  } catch (error) {
    throw unreadable(path, error);
  }
  try {
    let st: Stats;
    try {
      st = await handle.stat();
    } catch (error) {
      throw unreadable(path, error);
    }
    const refused = refusal(path, st, limit);
    if (refused) throw refused;
    const buf = Buffer.alloc(bufferSize(st, limit));
    let length = 0;
    while (length < buf.length) {
      let n: number;
      try {
        ({ bytesRead: n } = await handle.read(buf, length, buf.length - length, null));
      } catch (error) {
        throw unreadable(path, error);
      }
      if (n === 0) break;
      length += n;
    }
    if (length > st.size) throw grew(path, length, limit);
    return buf.subarray(0, length);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** The same checks, synchronously (see the header: only for the synchronous mailer construction). */
export function readBoundedFileSync(path: string, limit = SETTINGS_FILE_LIMIT): Buffer {
  let fd: number;
  try {
    fd = openSync(path, FLAGS);
  } catch (error) {
    throw unreadable(path, error);
  }
  try {
    let st: Stats;
    try {
      st = fstatSync(fd);
    } catch (error) {
      throw unreadable(path, error);
    }
    const refused = refusal(path, st, limit);
    if (refused) throw refused;
    const buf = Buffer.alloc(bufferSize(st, limit));
    let length = 0;
    while (length < buf.length) {
      let n: number;
      try {
        n = readSync(fd, buf, length, buf.length - length, null);
      } catch (error) {
        throw unreadable(path, error);
      }
      if (n === 0) break;
      length += n;
    }
    if (length > st.size) throw grew(path, length, limit);
    return buf.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}
