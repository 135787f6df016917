/**
 * The human-readable log format (`MAILGATE_LOG_FORMAT=pretty`, the default of `mailgate dev`):
 * one short line per entry, `HH:MM:SS.mmm LEVEL message key=value ...`, instead of pino's JSON;
 * an entry with an error is followed by its stack frames (and its cause's), indented.
 *
 * Why our own and not pino-pretty: the service logs few, flat entries; a 60-line formatter
 * avoids a dependency (pino-pretty brings about ten) and runs in-process, after the logger's
 * redaction: it only reformats lines that were already scrubbed (see ./logger.ts), so it cannot
 * reveal anything the JSON line would not.
 *
 * Imports: nothing from src/.
 */

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Record<number, string> = { 10: '90', 20: '90', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields every entry carries that the short line shows differently or not at all. */
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'v']);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function errorText(err: Record<string, unknown>): string {
  const head = `${String(err.type ?? 'Error')}: ${String(err.message ?? '')}`;
  return err.code === undefined ? head : `${head} (code ${String(err.code)})`;
}

/** A text on one line: control characters (CR, LF, ESC, …) shown escaped, so no entry forges another. */
function oneLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

/**
 * The frames of an error's (already scrubbed) stack, indented under its entry, then its cause's
 * head and frames: a pretty log keeps what the JSON keeps (issue 12 item 9), or a 500's
 * "the server log has the details" would point at a line without them.
 */
function errorFrames(err: Record<string, unknown>, depth = 0): string {
  const stack = typeof err.stack === 'string' ? err.stack.split('\n') : [];
  const first = stack.findIndex((l) => /^\s+at /.test(l));
  let out = first === -1 ? '' : stack.slice(first).map((l) => `    ${oneLine(l.trim())}\n`).join('');
  const cause = err.cause;
  if (depth < 4 && cause !== null && typeof cause === 'object') {
    out += `    caused by: ${oneLine(errorText(cause as Record<string, unknown>))}\n${errorFrames(cause as Record<string, unknown>, depth + 1)}`;
  }
  return out;
}

/** One pino JSON line → one readable line, then an error's stack frames (the input unchanged when it is not JSON). */
export function prettyLine(json: string, o: { color?: boolean } = {}): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const level = typeof entry.level === 'number' ? entry.level : 30;
  const name = (LEVELS[level] ?? String(level)).padEnd(5);
  const time = typeof entry.time === 'number' ? new Date(entry.time).toTimeString().slice(0, 8) + `.${String(entry.time % 1000).padStart(3, '0')}` : '';
  const parts = [time, o.color ? `\x1b[${COLORS[level] ?? '0'}m${name}\x1b[0m` : name, oneLine(String(entry.msg ?? ''))];
  let frames = '';
  for (const [k, v] of Object.entries(entry)) {
    if (OMIT.has(k) || v === undefined) continue;
    if (k === 'err' && v && typeof v === 'object') {
      parts.push(`err=${JSON.stringify(errorText(v as Record<string, unknown>))}`);
      frames = errorFrames(v as Record<string, unknown>);
    } else parts.push(`${k}=${value(v)}`);
  }
  return `${parts.filter((p) => p !== '').join(' ')}\n${frames}`;
}

/** A pino destination that writes `prettyLine` of each entry to `out`. */
export function prettyDestination(out: NodeJS.WritableStream & { isTTY?: boolean }): { write(chunk: string): boolean } {
  const color = !!out.isTTY && !process.env.NO_COLOR;
  return {
    write(chunk: string) {
      // pino writes one entry (ending in a newline) per call.
      return out.write(chunk.split('\n').filter((l) => l !== '').map((l) => prettyLine(l, { color })).join(''));
    },
  };
}
