/**
 * Output a command could not write: never fatal, and never a success a one-shot command did not
 * deliver.
 *
 * Why: Node reports a failed write to stdout or stderr (a pipe whose reader exited: EPIPE; a file
 * on a full disk: ENOSPC) as an 'error' event on the stream, and with nobody listening that ended
 * the process. For `mailgate serve`, `dev` and `emulator` that stopped the service or the tenant
 * a test was using (`mailgate emulator | head -1`), so they keep running and the output is lost.
 * A one-shot command goes on too (its work is done either way: `apikey create` has stored the
 * key), but when its stdout could not be written it exits with a failure instead of 0, so that
 * `mailgate apikey create ci --json > key.json && deploy` stops on a full disk instead of
 * carrying on with an empty file. A reader that went away (EPIPE, `| head -1`) fails it silently,
 * as a command ended by SIGPIPE would; any other error is named on stderr.
 *
 * Imports: ../log/logger (its stderr hold).
 */
import { holdStderrErrors } from '../log/logger.js';

let lost: NodeJS.ErrnoException | undefined;
let longRunning = false;

/** Hold write errors on stdout and stderr; a one-shot command whose stdout failed exits with `failedExit`. */
export function holdOutputErrors(failedExit: number): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    lost ??= error;
  });
  holdStderrErrors();
  process.on('exit', (code) => {
    if (!lost || longRunning || code !== 0) return;
    process.exitCode = failedExit;
    if (lost.code !== 'EPIPE') {
      try {
        process.stderr.write(`mailgate: the output could not be written (${lost.code ?? lost.message}); the command itself completed (a message sent, a key created), only its output is missing: do not simply run it again\n`);
      } catch {
        /* stderr is gone too */
      }
    }
  });
}

/** The command runs until it is stopped (serve, dev, emulator): output it cannot write is lost, and does not change its exit code. */
export function keepRunningThroughLostOutput(): void {
  longRunning = true;
}
