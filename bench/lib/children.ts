/**
 * Child processes of the benchmark: a registry that ends every one of them on exit (also on
 * Ctrl-C), and a tiny request/response protocol over the IPC channel of forked children.
 *
 * Only processes started here are ever signalled, each by its own pid.
 */
import { fork, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { sleep } from './clock.js';

const live = new Set<ChildProcess>();
const cleanups: (() => Promise<void> | void)[] = [];

let stopping = false;

/** Whether cleanup has begun (Ctrl-C): nothing new should start. */
export function isStopping(): boolean {
  return stopping;
}

export function track(child: ChildProcess): ChildProcess {
  if (stopping) {
    child.kill('SIGKILL');
    return child;
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Run `fn` during cleanup (after the children are ended), e.g. stopping Postfix. */
export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

/** End one child: SIGTERM, then SIGKILL after `graceMs`. */
export async function endChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const done = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) {
    child.kill('SIGKILL');
    await Promise.race([exited, sleep(1000)]);
  }
}

let cleaning: Promise<void> | undefined;
export function cleanupAll(): Promise<void> {
  stopping = true;
  cleaning ??= (async () => {
    await Promise.all([...live].map((c) => endChild(c)));
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (e) {
        process.stderr.write(`cleanup: ${(e as Error).message}\n`);
      }
    }
  })();
  return cleaning;
}

interface RpcReply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

/** The parent's side of a forked child that answers `{id, cmd, args}` requests. */
export class RpcChild {
  readonly child: ChildProcess;
  #next = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  #exitError?: Error;

  constructor(modulePath: string, args: string[] = [], options: { env?: NodeJS.ProcessEnv; execArgv?: string[] } = {}) {
    this.child = track(
      fork(modulePath, args, { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: options.env ?? process.env, execArgv: options.execArgv ?? [] }),
    );
    this.child.on('message', (m: RpcReply) => {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(m.error));
    });
    this.child.once('exit', (code, signal) => {
      this.#exitError = new Error(`${modulePath} exited (${code ?? signal})`);
      for (const p of this.#pending.values()) {
        clearTimeout(p.timer);
        p.reject(this.#exitError);
      }
      this.#pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  call<T>(cmd: string, args: unknown = {}, timeoutMs = 120_000): Promise<T> {
    if (this.#exitError) return Promise.reject(this.#exitError);
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${cmd}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ id, cmd, args });
    });
  }

  close(): Promise<void> {
    return endChild(this.child);
  }
}

/** The child's side: answer requests with the given handlers; exit when the parent goes away. */
export function serveRpc(handlers: Record<string, (args: any) => Promise<unknown> | unknown>): void {
  process.on('message', async (m: { id: number; cmd: string; args: unknown }) => {
    const h = handlers[m.cmd];
    try {
      if (!h) throw new Error(`unknown command ${m.cmd}`);
      const result = await h(m.args);
      process.send?.({ id: m.id, ok: true, result });
    } catch (e) {
      process.send?.({ id: m.id, ok: false, error: (e as Error)?.stack ?? String(e) });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.on('SIGINT', () => undefined); // the parent decides when we stop
}

/** Spawn a tracked command (not forked) with its output piped for the caller. */
export function spawnTracked(command: string, args: string[], options: SpawnOptions): ChildProcess {
  return track(spawn(command, args, options));
}
