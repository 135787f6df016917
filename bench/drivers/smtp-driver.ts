/**
 * SMTP load driver (a forked process), on nodemailer's pooled SMTP transport.
 *
 * Used three ways:
 * - raw nodemailer, the competitor: pool of 3, STARTTLS required, XOAUTH2 with a static token,
 *   `sendMail({from, to, subject, text})`, no durability;
 * - Postfix injection: the same pool, plain SMTP to Postfix's smtpd on loopback;
 * - the sink-ceiling client: pre-built `raw` messages over many connections;
 * - the relay scenario's device: pre-built `raw` messages over STARTTLS with AUTH PLAIN/LOGIN
 *   (username and password), to Mailgate's relay or a Postfix submission relay, reporting each
 *   message's DATA→250 time (nodemailer's `messageTime`: from the 354 to the final reply).
 *
 * Every submit time is taken on the shared monotonic clock, so the orchestrator can subtract it
 * from the sink's 250 timestamps.
 */
import { createTransport } from 'nodemailer';
import { serveRpc } from '../lib/children.js';
import { nowMs, sleep } from '../lib/clock.js';
import { BODY_TEXT, RECIPIENT, SENDER, subjectFor } from '../lib/message.js';

interface InitArgs {
  host: string;
  port: number;
  /** STARTTLS + XOAUTH2 (raw competitor, ceiling) or plain (Postfix injection). */
  tls: boolean;
  ca?: string;
  token?: string;
  /** STARTTLS with a username and password instead of XOAUTH2 (sent only if the server offers AUTH). */
  password?: { user: string; pass: string };
  maxConnections: number;
  /** Send pre-built raw messages (ceiling) instead of composing each one. */
  prebuilt?: boolean;
}

/** The part of nodemailer's pooled transport used here. */
interface PoolTransport {
  sendMail(message: object): Promise<unknown>;
  close(): void;
}

let transport: PoolTransport | undefined;
let init: InitArgs | undefined;
const rawHead = `From: ${SENDER}\r\nTo: ${RECIPIENT}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n`;

function makeTransport(a: InitArgs): PoolTransport {
  const create = createTransport as unknown as (options: object) => PoolTransport;
  return create({
    host: a.host,
    port: a.port,
    secure: false,
    pool: true,
    maxConnections: a.maxConnections,
    maxMessages: Infinity,
    ...(a.tls
      ? { requireTLS: true, auth: a.password ?? { type: 'OAuth2', user: SENDER, accessToken: a.token }, tls: { ca: a.ca, minVersion: 'TLSv1.2' } }
      : { ignoreTLS: true }),
    logger: false,
    debug: false,
  });
}

function sendOne(run: string, seq: number): Promise<unknown> {
  const subject = subjectFor(run, seq);
  if (init?.prebuilt) {
    const raw = `${rawHead}Subject: ${subject}\r\nMessage-ID: <${run}.${seq}@bench.mailgate.test>\r\n\r\n${BODY_TEXT}\r\n`;
    return transport!.sendMail({ envelope: { from: SENDER, to: [RECIPIENT] }, raw });
  }
  return transport!.sendMail({ from: SENDER, to: RECIPIENT, subject, text: BODY_TEXT });
}

serveRpc({
  init(args: InitArgs) {
    init = args;
    transport = makeTransport(args);
    return {};
  },
  /** Queue `count` messages at once; resolve when every sendMail has called back. */
  async burst(args: { run: string; count: number; startSeq?: number; dataTimes?: boolean }) {
    const start = nowMs();
    let errors = 0;
    let firstError: string | undefined;
    const dataTimes: number[] = [];
    await Promise.all(
      Array.from({ length: args.count }, (_, i) =>
        sendOne(args.run, (args.startSeq ?? 0) + i).then(
          (info) => {
            const t = (info as { messageTime?: number } | undefined)?.messageTime;
            if (args.dataTimes && typeof t === 'number') dataTimes.push(t);
          },
          (e: Error) => {
            errors++;
            firstError ??= e.message;
          },
        ),
      ),
    );
    return { start, end: nowMs(), errors, firstError, ...(args.dataTimes ? { dataTimes } : {}) };
  },
  /** One message every `intervalMs`; report the submit and callback time of each. */
  async paced(args: { run: string; count: number; intervalMs: number }) {
    const submits: number[] = [];
    const callbacks: number[] = [];
    const pending: Promise<unknown>[] = [];
    let errors = 0;
    let firstError: string | undefined;
    const t0 = nowMs();
    for (let i = 0; i < args.count; i++) {
      const due = t0 + i * args.intervalMs;
      const wait = due - nowMs();
      if (wait > 0) await sleep(wait);
      submits[i] = nowMs();
      pending.push(
        sendOne(args.run, i).then(
          () => (callbacks[i] = nowMs()),
          (e: Error) => {
            errors++;
            firstError ??= e.message;
          },
        ),
      );
    }
    await Promise.all(pending);
    return { submits, callbacks, errors, firstError };
  },
  close() {
    transport?.close();
    transport = undefined;
    return {};
  },
});
