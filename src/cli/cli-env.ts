/**
 * The environment a one-shot command (`send`, `doctor`) reads its settings from: the process
 * environment, plus the variables of `--env-file FILE`, plus the extra trusted CA.
 *
 * Why it exists: both commands take the same `--env-file` and the same CA rules, and must report
 * a bad file as a problem next to the settings' own problems, not as a crash.
 *
 * Decisions (the issue is silent):
 * - The file's variables win over the ambient environment: the file was named explicitly on the
 *   command line (a stale `export` from an earlier emulator run must not silently win). Each
 *   ambient variable the file overrides is named in a warning (never its value).
 * - The process is never changed (no `process.env` writes): the settings are read from the merged
 *   copy.
 * - The extra CA comes from MAILGATE_CA_FILE (Mailgate's own variable, as for `mailgate serve`).
 *   NODE_EXTRA_CA_CERTS in the file is honoured the same way, since Node reads that variable
 *   only when a process starts; in the real environment Node already applied it.
 *   A CA file must be a regular file of at most CA_BUNDLE_FILE_LIMIT (1 MiB), as for `serve`.
 *
 * Imports: ../config/bounded-file, ../core/errors, ./env-file.
 */
import { CA_BUNDLE_FILE_LIMIT, readBoundedFileSync } from '../config/bounded-file.js';
import type { Problem } from '../core/errors.js';
import { boundedFileProblem, EnvFileError, readEnvFile } from './env-file.js';

/** The same limit as `serve` (config/bounded-file.ts). */
export const MAX_CA_FILE_BYTES = CA_BUNDLE_FILE_LIMIT;

export interface CliEnvironment {
  env: Record<string, string | undefined>;
  /** The extra trusted CA (PEM), when one is configured and readable. */
  ca?: Buffer;
  /** Problems with the file or the CA (shown with the settings' problems). */
  problems: Problem[];
  warnings: string[];
}

function readCa(file: string, variable: string): { ca?: Buffer; problem?: Problem } {
  let ca: Buffer;
  try {
    ca = readBoundedFileSync(file, MAX_CA_FILE_BYTES);
  } catch (err) {
    return { problem: { key: 'caFile', env: variable, message: `${variable}: ${file} ${boundedFileProblem(err, '1 MiB')}` } };
  }
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) return { problem: { key: 'caFile', env: variable, message: `${variable}: ${file} holds no PEM certificate` } };
  return { ca };
}

/** The merged environment for a command; problems are returned, never thrown. */
export function cliEnvironment(envFile: string | undefined, base: Record<string, string | undefined> = process.env): CliEnvironment {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  let fileVars: Record<string, string> = {};
  if (envFile !== undefined) {
    try {
      fileVars = readEnvFile(envFile);
    } catch (err) {
      if (!(err instanceof EnvFileError)) throw err;
      for (const p of err.problems) problems.push({ key: 'envFile', message: `--env-file ${envFile}: ${p}` });
    }
    for (const key of Object.keys(fileVars)) {
      if (key.startsWith('MAILGATE_') && base[key] !== undefined && base[key] !== fileVars[key]) {
        warnings.push(`${key} from ${envFile} replaces the value in the environment`);
      }
    }
  }
  const env = { ...base, ...fileVars };
  let ca: Buffer | undefined;
  const sources: Array<[string, string | undefined]> = [['MAILGATE_CA_FILE', env.MAILGATE_CA_FILE], ['NODE_EXTRA_CA_CERTS', fileVars.NODE_EXTRA_CA_CERTS]];
  for (const [variable, file] of sources) {
    if (!file) continue;
    const r = readCa(file, variable);
    if (r.problem) problems.push(r.problem);
    else if (r.ca) ca = ca ? Buffer.concat([ca, Buffer.from('\n'), r.ca]) : r.ca;
  }
  return { env, ...(ca ? { ca } : {}), problems, warnings };
}
