/**
 * End-to-end: `mailgate doctor` with Transport graph and `mailgate setup-script --transport` as
 * child processes against the emulator (issue 15 item 6): the Graph checks in the JSON report,
 * the scoped Mail.Send script with the real service principal oid, and no secret or token in
 * either output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';
import { runCli, singleJson } from '../helpers/cli.js';
import type { DoctorReport } from '../../src/doctor/types.js';

const fixture = useEmulatedTenants();

test('doctor --json with MAILGATE_TRANSPORT=graph and --to: graph-token warns (tenant-wide, real oid), graph-send passes, SMTP checks skipped', async () => {
  const t = fixture.tenant();
  const r = await runCli(['doctor', '--json', '--to', 'someone@fabrikam.example'], fixture.envFor(t, { MAILGATE_TRANSPORT: 'graph', MAILGATE_GRAPH_ENDPOINT: fixture.emu.graph }));
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const report = singleJson(r.stdout) as DoctorReport;
  const by = (id: string) => report.checks.find((c) => c.id === id)!;
  assert.equal(by('graph-token').status, 'warn');
  assert.ok(by('graph-token').commands!.some((c) => c.includes(`-App ${t.servicePrincipalObjectId} -Role "Application Mail.Send"`)));
  assert.equal(by('graph-send').status, 'pass');
  assert.equal(by('smtp-auth').status, 'skip');
  assert.ok(!r.stdout.includes(t.clientSecret!) && !r.stderr.includes(t.clientSecret!));
  assert.doesNotMatch(r.stdout + r.stderr, /eyJ[A-Za-z0-9_-]{10,}\./);
});

test('setup-script --transport graph|auto: the scoped Mail.Send assignment with the real oid; --transport bogus exits 2', async () => {
  const t = fixture.tenant();
  const graph = await runCli(['setup-script', '--transport', 'graph'], fixture.envFor(t));
  assert.equal(graph.code, 0, graph.stderr);
  assert.ok(graph.stdout.includes(`$ServicePrincipalObjectId = '${t.servicePrincipalObjectId}'`));
  assert.ok(graph.stdout.includes("-Role 'Application Mail.Send'"));
  assert.ok(!graph.stdout.includes('Add-MailboxPermission -Identity'));
  const auto = await runCli(['setup-script', '--transport', 'auto'], fixture.envFor(t));
  assert.equal(auto.code, 0, auto.stderr);
  assert.ok(auto.stdout.includes("-Role 'Application Mail.Send'") && auto.stdout.includes('Add-MailboxPermission -Identity'));
  const bad = await runCli(['setup-script', '--transport', 'pigeon'], fixture.envFor(t));
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /transport: must be one of smtp, graph, auto/);
});
