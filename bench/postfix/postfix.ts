/**
 * Postfix from Debian as a competitor: installed if missing (before the namespace is entered),
 * configured as an administrator would for this job, started in its own scratch directory.
 *
 * Configuration (docs/perf-calibration.md): relay to the sink over STARTTLS with SASL PLAIN, trusted
 * CA, destination concurrency 3, TLS connection reuse on (`postfix`) or Postfix's default off
 * (`postfix_default`); Debian's master.cf with chroot off and tlsproxy added; smtpd for
 * injection on a loopback port; queue on local disk with default fsync behaviour.
 *
 * The relay scenario adds Postfix as the submission relay an administrator would install for
 * printers and apps (`smtpdTls`): smtpd requires STARTTLS (the benchmark certificate) and relays
 * for mynetworks (no SASL: a LAN relay's usual set-up, and AUTH would only add a per-connection
 * cost to Postfix's side). With `hold`, every accepted message goes to the hold queue
 * (`smtpd_data_restrictions = check_client_access static:HOLD`), so only intake is measured:
 * no queue manager or delivery work runs beside it.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SENDER } from '../lib/message.js';

export const POSTFIX_BIN = '/usr/sbin/postfix';

export function postfixVersion(): string | undefined {
  try {
    return execFileSync('postconf', ['-d', '-h', 'mail_version'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

/**
 * Make sure Postfix (and the SASL PLAIN module its client needs) is installed. Runs outside the
 * namespace, as it may need the network. Returns a note when Postfix cannot be used.
 */
export function ensurePostfixInstalled(log: (s: string) => void): { ok: boolean; note?: string } {
  const haveSasl = existsSync('/usr/lib/x86_64-linux-gnu/sasl2/libplain.so') || existsSync('/usr/lib/aarch64-linux-gnu/sasl2/libplain.so');
  if (existsSync(POSTFIX_BIN) && haveSasl) return { ok: true };
  if (process.getuid?.() !== 0) return { ok: false, note: 'Postfix is not installed and the benchmark is not running as root (cannot apt-get install postfix)' };
  log('installing postfix and libsasl2-modules with apt-get (the system Postfix is left unconfigured and not started)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('sh', ['-c', "echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections"], { stdio: 'ignore' });
  const update = spawnSync('apt-get', ['update'], { stdio: 'ignore', env, timeout: 300_000 });
  const install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'postfix', 'libsasl2-modules'], { stdio: 'ignore', env, timeout: 600_000 });
  if (update.status !== 0 || install.status !== 0 || !existsSync(POSTFIX_BIN)) {
    return { ok: false, note: `apt-get install postfix failed (update ${update.status}, install ${install.status})` };
  }
  return { ok: true };
}

export interface PostfixInstance {
  name: string;
  reuse: boolean;
  /** Messages go to the hold queue (intake only). */
  hold: boolean;
  configDir: string;
  queueDir: string;
  smtpdPort: number;
  logFile: string;
}

/** Debian's master.cf with the chroot column set to "n", smtpd on our port, tlsproxy added. */
function masterCf(smtpdPort: number): string {
  const debian = existsSync('/etc/postfix/master.cf') ? readFileSync('/etc/postfix/master.cf', 'utf8') : '';
  const out: string[] = [`127.0.0.1:${smtpdPort} inet n - n - - smtpd`];
  let sawTlsproxy = false;
  for (const line of debian.split('\n')) {
    if (!line.trim() || line.startsWith('#') || /^\s/.test(line)) continue; // comments and -o continuation lines
    const cols = line.trim().split(/\s+/);
    if (cols.length < 8) continue;
    if (cols[1] === 'inet') continue; // only our injection smtpd listens
    if (['pipe'].includes(cols[7])) continue; // maildrop, uucp, …: unused delivery agents
    if (cols[0] === 'tlsproxy') sawTlsproxy = true;
    cols[4] = 'n';
    out.push(cols.join(' '));
  }
  if (!out.some((l) => l.startsWith('pickup '))) {
    // No Debian master.cf: the same service list, written out.
    out.push(
      'pickup unix n - n 60 1 pickup', 'cleanup unix n - n - 0 cleanup', 'qmgr unix n - n 300 1 qmgr', 'tlsmgr unix - - n 1000? 1 tlsmgr',
      'rewrite unix - - n - - trivial-rewrite', 'bounce unix - - n - 0 bounce', 'defer unix - - n - 0 bounce', 'trace unix - - n - 0 bounce',
      'verify unix - - n - 1 verify', 'flush unix n - n 1000? 0 flush', 'proxymap unix - - n - - proxymap', 'proxywrite unix - - n - 1 proxymap',
      'smtp unix - - n - - smtp', 'relay unix - - n - - smtp', 'showq unix n - n - - showq', 'error unix - - n - - error', 'retry unix - - n - - error',
      'discard unix - - n - - discard', 'local unix - n n - - local', 'virtual unix - n n - - virtual', 'lmtp unix - - n - - lmtp',
      'anvil unix - - n - 1 anvil', 'scache unix - - n - 1 scache', 'postlog unix-dgram n - n - 1 postlogd',
    );
  }
  if (!sawTlsproxy) out.push('tlsproxy unix - - n - 0 tlsproxy');
  return out.join('\n') + '\n';
}

export interface SmtpdTls {
  certFile: string;
  keyFile: string;
}

function mainCf(o: { queueDir: string; dataDir: string; logFile: string; scratch: string; sinkPort: number; caFile: string; reuse: boolean; smtpdTls?: SmtpdTls; hold?: boolean; cacheRelay?: boolean }): string {
  return `# Generated by bench/postfix/postfix.ts: Postfix relaying to the benchmark sink.
compatibility_level = 3.6
queue_directory = ${o.queueDir}
data_directory = ${o.dataDir}
maillog_file = ${o.logFile}
maillog_file_prefixes = /var, /dev/stdout, ${o.scratch}
myhostname = postfix.bench.mailgate.test
mydomain = bench.mailgate.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
biff = no
relayhost = [127.0.0.1]:${o.sinkPort}
smtp_tls_security_level = encrypt
smtp_tls_CAfile = ${o.caFile}
smtp_tls_session_cache_database = btree:\${data_directory}/smtp_scache
smtp_sasl_auth_enable = yes
smtp_sasl_password_maps = static:${SENDER}:bench-password
smtp_sasl_security_options = noanonymous
smtp_sasl_tls_security_options = noanonymous
smtp_sasl_mechanism_filter = plain, login
default_destination_concurrency_limit = 3
smtp_destination_concurrency_limit = 3
initial_destination_concurrency = 3
smtp_tls_connection_reuse = ${o.reuse ? 'yes' : 'no'}
${o.smtpdTls ? `# Submission relay for devices: STARTTLS required, relaying for mynetworks.
smtpd_tls_cert_file = ${o.smtpdTls.certFile}
smtpd_tls_key_file = ${o.smtpdTls.keyFile}
smtpd_tls_security_level = encrypt
smtpd_tls_protocols = >=TLSv1.2
smtpd_relay_restrictions = permit_mynetworks, reject
` : ''}${o.hold ? `# Intake only: every accepted message is held, nothing is delivered.
smtpd_data_restrictions = check_client_access static:HOLD
` : ''}${o.cacheRelay ? `# WAN scenario: keep the session to the relay host for the next message, as an administrator
# sending a steady trickle over a long path would (otherwise only a backlog reuses it).
smtp_connection_cache_destinations = [127.0.0.1]:${o.sinkPort}
` : ''}`;
}

// postfix prints its errors only to a terminal: run it under script(1) to see them.
const scriptArgs = (configDir: string, action: string) => ['-qec', `${POSTFIX_BIN} -c ${configDir} ${action}`, '/dev/null'];

function postfixCmd(configDir: string, action: string): { ok: boolean; output: string } {
  const r = spawnSync('script', scriptArgs(configDir, action), { encoding: 'utf8', timeout: 60_000 });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

function postfixCmdAsync(configDir: string, action: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile('script', scriptArgs(configDir, action), { encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ ok: !error, output: `${stdout ?? ''}${stderr ?? ''}`.trim() });
    });
  });
}

export function masterPid(inst: PostfixInstance): number | undefined {
  try {
    const pid = Number(readFileSync(join(inst.queueDir, 'pid', 'master.pid'), 'utf8').trim());
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    return comm === 'master' ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function stopPostfix(inst: PostfixInstance): void {
  if (masterPid(inst) === undefined) return;
  postfixCmd(inst.configDir, 'stop');
  const pid = masterPid(inst);
  if (pid !== undefined) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
}

/** Write the configuration of one instance and start it (stopping a leftover of an earlier run first). */
export async function startPostfix(o: { name: string; reuse: boolean; scratch: string; sinkPort: number; smtpdPort: number; caFile: string; smtpdTls?: SmtpdTls; hold?: boolean; cacheRelay?: boolean }): Promise<PostfixInstance> {
  const base = join(o.scratch, o.name);
  const inst: PostfixInstance = {
    name: o.name,
    reuse: o.reuse,
    hold: o.hold === true,
    configDir: join(base, 'etc'),
    queueDir: join(base, 'spool'),
    smtpdPort: o.smtpdPort,
    logFile: join(base, 'maillog'),
  };
  stopPostfix(inst);
  rmSync(base, { recursive: true, force: true });
  const dataDir = join(base, 'data');
  for (const d of [inst.configDir, inst.queueDir, dataDir]) mkdirSync(d, { recursive: true });
  execFileSync('chown', ['postfix:postfix', dataDir]);
  writeFileSync(join(inst.configDir, 'main.cf'), mainCf({ queueDir: inst.queueDir, dataDir, logFile: inst.logFile, scratch: o.scratch, sinkPort: o.sinkPort, caFile: o.caFile, reuse: o.reuse, smtpdTls: o.smtpdTls, hold: o.hold, cacheRelay: o.cacheRelay }));
  writeFileSync(join(inst.configDir, 'master.cf'), masterCf(o.smtpdPort));
  const r = await postfixCmdAsync(inst.configDir, 'start');
  if (!r.ok) throw new Error(`postfix -c ${inst.configDir} start failed: ${r.output.slice(0, 2000)}`);
  return inst;
}

/** Delete every message in the instance's queues (the relay scenario empties its hold queue between runs). */
export function purgeQueue(inst: PostfixInstance): void {
  spawnSync('postsuper', ['-c', inst.configDir, '-d', 'ALL'], { stdio: 'ignore', timeout: 120_000 });
}

/** Messages in the hold queue (the relay scenario checks that every accepted message is there). */
export function heldCount(inst: PostfixInstance): number {
  let n = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else n++;
    }
  };
  try {
    walk(join(inst.queueDir, 'hold'));
  } catch {
    return 0;
  }
  return n;
}
