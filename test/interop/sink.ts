/**
 * The interop suite's final destination: a small plain SMTP server (smtp-server) on loopback
 * that Postfix (relayhost) and Dovecot (submission_relay_host) relay every accepted message
 * to. It keeps each message with its envelope and Message-ID, so a test can prove that what
 * Mailgate handed to the real server actually came out the other side.
 *
 * No TLS, no AUTH: it stands for "the rest of the internet" behind the servers under test.
 * It refuses one recipient, `refused@example.test` (550 5.1.1), so a refused recipient can be
 * tested through Dovecot's submission, which passes RCPT TO on to it while the client waits.
 */
import { SMTPServer } from 'smtp-server';

/** The one recipient the sink (and Postfix, postfix-main.cf) refuses. */
export const REFUSED_RECIPIENT = 'refused@example.test';

export interface SinkMessage {
  from: string;
  to: string[];
  raw: string;
  /** The message exactly as received (after the relaying server's own headers). */
  bytes: Buffer;
  /** The Message-ID header (angle brackets included), when present. */
  messageId?: string;
  subject?: string;
  receivedAt: number;
}

export interface Sink {
  port: number;
  readonly messages: SinkMessage[];
  /** Resolves when `predicate` holds over the messages received so far; rejects after timeoutMs. */
  waitFor(predicate: (messages: SinkMessage[]) => boolean, timeoutMs: number, what: string): Promise<void>;
  close(): Promise<void>;
}

function header(raw: string, name: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/, 1)[0] ?? '';
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(unfolded);
  return m?.[1]?.trim();
}

export function startSink(): Promise<Sink> {
  const messages: SinkMessage[] = [];
  const waiters = new Set<() => void>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    size: 50 * 1024 * 1024,
    onRcptTo(address, _session, callback) {
      if (address.address.toLowerCase() === REFUSED_RECIPIENT) return callback(Object.assign(new Error('5.1.1 <refused@example.test>: Recipient address rejected: User unknown'), { responseCode: 550 }));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const raw = bytes.toString('utf8');
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        messages.push({
          from,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          bytes,
          messageId: header(raw, 'Message-ID'),
          subject: header(raw, 'Subject'),
          receivedAt: Date.now(),
        });
        for (const w of [...waiters]) w();
        callback();
      });
    },
  });
  server.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.server.address() as { port: number }).port;
      resolve({
        port,
        messages,
        waitFor(predicate, timeoutMs, what) {
          if (predicate(messages)) return Promise.resolve();
          return new Promise<void>((res, rej) => {
            const check = () => {
              if (predicate(messages)) {
                clearTimeout(timer);
                waiters.delete(check);
                res();
              }
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              rej(new Error(`sink: timed out after ${timeoutMs} ms waiting for ${what} (${messages.length} messages received)`));
            }, timeoutMs);
            waiters.add(check);
          });
        },
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}
