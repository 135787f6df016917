/**
 * The environment a one-shot command (`send`, `doctor`) reads its settings from: the process
 * environment, plus the variables of `--settings-file FILE` (alias `--env-file`), plus the extra
 * trusted CA.
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
import type { Command } from 'commander';
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

/**
 * `--settings-file FILE`, and `--env-file FILE` as its alias, for `send` and `doctor`.
 *
 * Why two names: Node 20 itself scans the whole command line, the script's arguments included,
 * for `--env-file` (nodejs/node#54232): with a FILE that does not exist it exits 9 with
 * `node: FILE: not found` before any of our code runs, and with one that exists it also loads it
 * into the environment itself (without overriding variables already set, so ours still win).
 * No launcher can prevent that: Node parses its argv before loading bin/mailgate.js. (A shebang
 * `#!/usr/bin/env -S node --` would, since Node 20 stops the scan at `--`, but BusyBox's env has
 * no -S and `mailgate` would not start at all there: the safe choice is a name Node ignores.)
 */
export function addSettingsFileOptions(command: Command): Command {
  return command
    .option('--settings-file <file>', 'read MAILGATE_* settings from FILE (KEY=VALUE lines, as `mailgate emulator --write-env-file` writes); its values win over the environment')
    .option('--env-file <file>', 'the same as --settings-file (on Node 20 only when FILE exists: Node itself stops on a missing one)');
}

/** The settings file a command was given, and the flag that named it (for its problems). */
export function settingsFileFlag(flags: { settingsFile?: string; envFile?: string }): { file?: string; flag: string; problems: Problem[] } {
  if (flags.settingsFile !== undefined && flags.envFile !== undefined && flags.settingsFile !== flags.envFile) {
    return { flag: '--settings-file', problems: [{ key: 'envFile', message: '--settings-file and --env-file name different files; give one of them' }] };
  }
  if (flags.settingsFile !== undefined) return { file: flags.settingsFile, flag: '--settings-file', problems: [] };
  if (flags.envFile !== undefined) return { file: flags.envFile, flag: '--env-file', problems: [] };
  return { flag: '--settings-file', problems: [] };
}

/** The environment for a command given `--settings-file`/`--env-file` flags (see settingsFileFlag). */
export function cliEnvironmentFor(flags: { settingsFile?: string; envFile?: string }, base: Record<string, string | undefined> = process.env): CliEnvironment {
  const named = settingsFileFlag(flags);
  if (named.problems.length) return { env: { ...base }, problems: named.problems, warnings: [] };
  return cliEnvironment(named.file, base, named.flag);
}

/** The merged environment for a command; problems are returned, never thrown. */
export function cliEnvironment(envFile: string | undefined, base: Record<string, string | undefined> = process.env, flag = '--env-file'): CliEnvironment {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  let fileVars: Record<string, string> = {};
  if (envFile !== undefined) {
    try {
      fileVars = readEnvFile(envFile);
    } catch (err) {
      if (!(err instanceof EnvFileError)) throw err;
      for (const p of err.problems) problems.push({ key: 'envFile', message: `${flag} ${envFile}: ${p}` });
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
