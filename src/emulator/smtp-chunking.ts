/**
 * CHUNKING (RFC 3030 `BDAT <size> [LAST]`) and round-trip counting for the emulated Exchange
 * front end, on top of smtp-server's command parser.
 *
 * Why it exists: Exchange Online advertises CHUNKING and PIPELINING (docs/m365.md §3.2) and
 * smtp-server implements no BDAT. A BDAT chunk is raw bytes that follow the command line, so
 * the parser must hand exactly `<size>` bytes to the session instead of reading them as
 * commands: `ChunkReader` does that by taking over the parser's data-mode feed for the length
 * of a chunk (the parser already switches to its data mode when a handler asks, with the rest
 * of the current input), then resumes command parsing with whatever follows the chunk (the
 * next pipelined command). smtp-server's own DATA is untouched.
 *
 * Round trips (the emulator's `smtpRoundTrips` / `smtpTransactions` stats): a round trip is a
 * client flight of data that the client could only send after waiting for a reply, seen from
 * the server as client data arriving while the server is *waiting for the client*: everything
 * received before has been processed and answered, no command line is partial, no BDAT chunk
 * is incomplete, and no DATA content has started (right after `354` the server waits). Data that
 * arrives while the server is still working on earlier input, or in the middle of a line, a
 * chunk or a DATA body, continues the same flight. A message's round trips run from the flight
 * that carries its MAIL FROM to the flight that completes its content (end of DATA or BDAT
 * LAST), both included: MAIL, RCPT, DATA and the message one by one = 4; MAIL/RCPT/DATA
 * pipelined, then the message = 2; MAIL/RCPT/BDAT LAST with the message in one write = 1.
 * (A single client write split by the network exactly at a command boundary, after the server
 * answered everything before it, would count twice: the count can only err upwards.)
 *
 * Imports: smtp-server's stream type only.
 */
import type { SMTPStream } from 'smtp-server/lib/smtp-stream.js';

/** `BDAT <size> [LAST]` → size and last, or undefined for a syntax error. */
export function parseBdat(line: string): { size: number; last: boolean } | undefined {
  const m = /^BDAT +(\d{1,10})( +LAST)? *$/i.exec(line.trim());
  if (!m) return undefined;
  const size = Number(m[1]);
  return Number.isSafeInteger(size) ? { size, last: Boolean(m[2]) } : undefined;
}

type Done = (err?: Error | null) => void;

/** Reads BDAT chunks off an smtp-server parser (one reader per parser). */
export class ChunkReader {
  #want = 0;
  #parts: Buffer[] = [];
  #keepUpTo = 0;
  #received = 0;
  #onChunk?: (bytes: Buffer, size: number, resume: () => void) => void;

  constructor(private readonly parser: SMTPStream) {
    const feed = parser._feedDataStream.bind(parser);
    parser._feedDataStream = (chunk: Buffer, done: Done) => (this.#onChunk ? this.#feed(chunk, done) : feed(chunk, done));
  }

  /** True while a chunk is being read (its bytes have not all arrived). */
  get active(): boolean {
    return this.#onChunk !== undefined;
  }

  /**
   * Read the next `size` bytes as a chunk (called from the BDAT command handler, which then
   * calls its own callback so the parser moves on to the bytes). `onChunk` gets the bytes (at
   * most `keepUpTo` of them are kept; `size` is the real count) and must call `resume` once it
   * has replied: the parser then goes on with what followed the chunk.
   */
  read(size: number, keepUpTo: number, onChunk: (bytes: Buffer, size: number, resume: () => void) => void): void {
    this.#want = size;
    this.#received = 0;
    this.#parts = [];
    this.#keepUpTo = keepUpTo;
    this.#onChunk = onChunk;
    this.parser._dataMode = true;
    this.parser._remainder = '';
  }

  #feed(chunk: Buffer, done: Done): void {
    const take = Math.min(this.#want - this.#received, chunk.length);
    const room = Math.max(0, this.#keepUpTo - this.#received);
    if (room > 0 && take > 0) this.#parts.push(Buffer.from(chunk.subarray(0, Math.min(take, room))));
    this.#received += take;
    if (this.#received < this.#want) return done();
    this.#complete(chunk.subarray(take), done);
  }

  #complete(rest: Buffer, done: Done): void {
    const onChunk = this.#onChunk!;
    const bytes = Buffer.concat(this.#parts);
    const size = this.#want;
    this.#onChunk = undefined;
    this.#parts = [];
    this.parser._dataMode = false;
    onChunk(bytes, size, () => {
      if (rest.length) this.parser._write(rest, 'buffer', done);
      else done();
    });
  }
}

/**
 * Counts round trips on one connection (see the module comment): `arrival()` is called with
 * every piece of client data before the parser sees it, `awaitingClient()` tells whether the
 * server was waiting for the client at that moment.
 */
export class RoundTripCounter {
  total = 0;
  #transactionStart: number | undefined;

  /** Client data arrived; counts a round trip when the server was waiting for it. */
  arrival(awaitingClient: boolean): void {
    if (awaitingClient) this.total++;
  }

  /** MAIL FROM was received (in the current flight). */
  startTransaction(): void {
    this.#transactionStart = this.total;
  }

  /** The content of the message is complete: its round trips, or undefined without a MAIL FROM. */
  endTransaction(): number | undefined {
    if (this.#transactionStart === undefined) return undefined;
    const n = this.total - this.#transactionStart + 1;
    this.#transactionStart = undefined;
    return n;
  }
}

/** Whether an smtp-server parser (and the session around it) is waiting for the client. */
export function parserAwaitsClient(parser: SMTPStream, reader: ChunkReader | undefined, handlerPending: boolean): boolean {
  if (handlerPending || parser.writableLength > 0 || parser._remainder !== '' || reader?.active) return false;
  // In DATA mode the server waits only until the first byte of the content (right after 354).
  if (parser._dataMode) return parser.dataBytes === 0 && !(parser._lastBytes && parser._lastBytes.length);
  return true;
}
