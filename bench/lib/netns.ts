/**
 * The network environment of a run.
 *
 * On this machine's plain loopback Postfix stalls ~40 ms per message (Nagle on its side meets
 * delayed ACK on the receiver's, docs/perf-calibration.md). So the whole benchmark, every
 * competitor alike, runs inside a private network namespace (`unshare -n`) whose loopback
 * routes carry `quickack 1`. If no namespace can be made, it runs on plain loopback and the
 * Postfix figures are marked as stalled.
 */
import { execFileSync, spawn } from 'node:child_process';

export type Environment = 'netns-quickack' | 'netns' | 'loopback';

export const INNER_ENV = 'MAILGATE_BENCH_NETNS';

/** Whether `unshare -n` works here (root or CAP_SYS_ADMIN). */
export function canUnshare(): boolean {
  try {
    execFileSync('unshare', ['-n', 'true'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Re-run this script inside a new network namespace; resolves with its exit code. */
export function runInNamespace(script: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('unshare', ['-n', '--', process.execPath, ...process.execArgv, script, ...args], {
      stdio: 'inherit',
      env: { ...process.env, [INNER_ENV]: '1' },
    });
    // Ctrl-C reaches the child through the terminal's process group; wait for its cleanup.
    const ignore = () => undefined;
    process.on('SIGINT', ignore);
    const term = () => child.kill('SIGTERM');
    process.on('SIGTERM', term);
    process.on('SIGHUP', term);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 130 : 1)));
  });
}

/** Inside the namespace: bring loopback up and set `quickack 1` on its local routes. */
export function setUpNamespaceLoopback(): { environment: Environment; routes: string; error?: string } {
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  try {
    for (const dst of ['127.0.0.0/8', '127.0.0.1']) {
      execFileSync('ip', ['route', 'change', 'local', dst, 'dev', 'lo', 'proto', 'kernel', 'scope', 'host', 'src', '127.0.0.1', 'table', 'local', 'quickack', '1']);
    }
    const routes = execFileSync('ip', ['route', 'show', 'table', 'local'], { encoding: 'utf8' });
    return { environment: routes.includes('quickack 1') ? 'netns-quickack' : 'netns', routes };
  } catch (e) {
    return { environment: 'netns', routes: '', error: (e as Error).message };
  }
}
