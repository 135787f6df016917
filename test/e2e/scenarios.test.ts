/**
 * End-to-end, table-driven: every named scenario of the emulator (src/emulator/scenarios.ts)
 * against the real doctor over real sockets and TLS. Each scenario's report fails in exactly the
 * check the scenario targets and in no other (issue 13, items 6 and 16); `healthy` passes every
 * check. With the emulator's Exchange configuration as a source, the four Exchange-side
 * `535 5.7.3` cases are told apart; without it the doctor keeps the ordered checklist, as it
 * must against a real tenant, and the emulator's SMTP reply is the same text for all of them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';
import { listScenarios, type ClientValues } from '../../src/emulator/index.js';
import { runDoctor } from '../../src/doctor/index.js';
import { emulatorExchangeFacts } from '../../src/doctor/exchange-facts.js';
import type { CheckResult } from '../../src/doctor/types.js';

const fixture = useEmulatedTenants();

/** The raw settings a client uses for a scenario (the scenario's client values on top of the emulator's endpoints). */
function rawFor(client: ClientValues, transport = 'smtp'): Record<string, string> {
  const emu = fixture.emu;
  return {
    ...(transport !== 'smtp' ? { transport, graphEndpoint: emu.graph } : {}),
    tenantId: client.tenantId,
    clientId: client.clientId,
    clientSecret: client.clientSecret ?? '',
    authorizedFrom: client.authorizedFrom,
    smtpHost: emu.smtp.host,
    smtpPort: String(emu.smtp.port),
    authorityHost: emu.authorityHost,
    ...(client.scope ? { scope: client.scope } : {}),
    ...(client.useModernAuth !== undefined ? { useModernAuth: String(client.useModernAuth) } : {}),
    ...(client.smtpUsername ? { smtpUsername: client.smtpUsername } : {}),
    ...(client.smtpPassword ? { smtpPassword: client.smtpPassword } : {}),
  };
}

async function doctorFor(name: string, withFacts: boolean, o: { transport?: string; to?: string } = {}) {
  fixture.tenant();
  const applied = fixture.emu.setScenario(name);
  const report = await runDoctor(rawFor(applied.client!, o.transport), {
    ca: fixture.emu.caPem,
    ...(o.to ? { to: o.to } : {}),
    ...(withFacts ? { exchangeFacts: emulatorExchangeFacts(fixture.emu.admin, { ca: fixture.emu.caPem }) } : {}),
  });
  return { applied, report, failed: report.checks.filter((c) => c.status === 'fail').map((c) => c.id) };
}

const byId = (checks: CheckResult[], id: string) => checks.find((c) => c.id === id)!;

// The SMTP scenarios run the doctor with Transport smtp; the Graph scenarios (issue 15) with
// Transport graph and a recipient, so graph-send sends a real sendMail to the emulator.
const scenarios = listScenarios();
const graphRun = (s: { transport?: string }) => (s.transport === 'graph' ? { transport: 'graph', to: `doctor-${Date.now()}@fabrikam.example` } : {});

test('the scenario list covers every broken set-up the issue names', () => {
  const names = scenarios.filter((s) => s.transport !== 'graph').map((s) => s.name);
  for (const n of ['healthy', 'no-consent', 'no-service-principal', 'app-registration-object-id', 'no-full-access',
    'smtp-auth-disabled-tenant', 'smtp-auth-disabled-mailbox', 'wrong-secret', 'expired-secret', 'secret-id-pasted',
    'unknown-tenant', 'disabled-app', 'unknown-app', 'mailbox-not-in-tenant', 'graph-scope', 'basic-auth']) {
    assert.ok(names.includes(n), `scenario ${n} is missing`);
  }
});

for (const s of scenarios) {
  test(`scenario ${s.name}: the doctor report fails ${s.check ? `in ${s.check} only` : 'nowhere'}`, async () => {
    const { report, failed } = await doctorFor(s.name, true, graphRun(s));
    assert.deepEqual(failed, s.check ? [s.check] : [], JSON.stringify(report.checks.map((c) => [c.id, c.status, c.summary]), null, 1));
    assert.equal(report.ok, s.check === null);
  });
}

/** What the doctor must name for the scenarios whose failures have a specific explanation. */
const EXPECTED: Record<string, { check: string; diagnosis?: string; summary: RegExp }> = {
  'unknown-tenant': { check: 'token', diagnosis: 'aadsts-90002', summary: /./ },
  'unknown-app': { check: 'token', diagnosis: 'aadsts-700016', summary: /./ },
  'disabled-app': { check: 'token', diagnosis: 'aadsts-7000112', summary: /./ },
  'wrong-secret': { check: 'token', diagnosis: 'aadsts-7000215', summary: /./ },
  'expired-secret': { check: 'token', diagnosis: 'aadsts-7000222', summary: /./ },
  'secret-id-pasted': { check: 'token', summary: /Client Secret is a GUID, which is the secret's ID/ },
  'graph-scope': { check: 'token-claims', summary: /Microsoft Graph/ },
  'no-consent': { check: 'smtp-auth', summary: /no SMTP\.SendAsApp role/ },
  'smtp-auth-disabled-tenant': { check: 'smtp-auth', diagnosis: 'smtp-535-5.7.139-tenant', summary: /./ },
  'smtp-auth-disabled-mailbox': { check: 'smtp-auth', diagnosis: 'smtp-535-5.7.139-mailbox', summary: /./ },
  'basic-auth': { check: 'smtp-auth', diagnosis: 'smtp-535-5.7.139-basic-auth-disabled', summary: /./ },
};

for (const [name, want] of Object.entries(EXPECTED)) {
  test(`scenario ${name}: the failing check explains it (${want.diagnosis ?? want.summary})`, async () => {
    const { report } = await doctorFor(name, true);
    const c = byId(report.checks, want.check);
    if (want.diagnosis) assert.equal(c.details?.diagnosis, want.diagnosis, c.summary);
    assert.match(c.summary, want.summary);
  });
}

const EXCHANGE_SIDE = ['no-service-principal', 'app-registration-object-id', 'no-full-access', 'mailbox-not-in-tenant'];

for (const name of EXCHANGE_SIDE) {
  test(`scenario ${name}: with the emulator's Exchange configuration the doctor names that one step`, async () => {
    const { applied, report } = await doctorFor(name, true);
    const auth = byId(report.checks, 'smtp-auth');
    assert.equal(auth.details?.exchangeSide, name);
    assert.match(String(auth.details?.exchangeFactsFrom), /emulator's admin API/);
    const causes = auth.details?.causes as string[];
    assert.equal(causes.length, 1);
    assert.ok(auth.summary.endsWith(`shows why: ${causes[0]}`), auth.summary);
    assert.match(auth.summary, /as read from the emulator's admin API \(https:/);
    const oid = byId(report.checks, 'token-claims').details?.oid as string;
    const state = fixture.emu.getState();
    const app = state.tenants[0]!.apps[0]!;
    assert.equal(oid, app.servicePrincipalObjectId);
    if (name === 'app-registration-object-id') {
      assert.ok(auth.commands!.includes(`Remove-ServicePrincipal -Identity ${app.applicationObjectId}`), auth.commands!.join('\n'));
      assert.ok(auth.commands!.includes(`New-ServicePrincipal -AppId ${applied.client!.clientId} -ObjectId ${oid} -DisplayName "Mailgate"`));
    }
    if (name === 'no-full-access') assert.ok(auth.commands!.includes(`Add-MailboxPermission -Identity ${applied.client!.authorizedFrom} -User ${oid} -AccessRights FullAccess`));
    if (name === 'mailbox-not-in-tenant') assert.match(auth.fix!, /Set Authorized from Address/);
  });
}

test('without Exchange facts (a real tenant) the four Exchange-side cases get the same ordered checklist, including the mailbox typo', async () => {
  const fixes = new Set<string>();
  const replies = new Set<string>();
  for (const name of EXCHANGE_SIDE) {
    const { report } = await doctorFor(name, false);
    const auth = byId(report.checks, 'smtp-auth');
    assert.equal(auth.status, 'fail');
    assert.equal(auth.details?.exchangeSide, undefined);
    fixes.add(auth.fix!.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<guid>'));
    // Exchange gives one reply for every OAuth refusal; so does the emulator (only the bracketed id differs).
    replies.add(String(auth.details?.reply).replace(/\[.*\]/, '[…]'));
    assert.match(auth.fix!, /not a mailbox of this tenant \(a typo/);
    assert.ok((auth.details?.causes as string[]).some((c) => /not a mailbox of tenant/.test(c)));
  }
  assert.equal(fixes.size, 1, 'the checklist does not pretend to know the cause');
  assert.deepEqual([...replies], ['535 5.7.3 Authentication unsuccessful […]']);
});

test('a scenario replaces the previous one and healthy restores the baseline', async () => {
  const t = fixture.tenant();
  const baseline = fixture.emu.getState();
  fixture.emu.setScenario('no-full-access');
  fixture.emu.setScenario('disabled-app');
  const state = fixture.emu.getState();
  assert.equal(state.tenants[0]!.apps[0]!.enabled, false);
  assert.deepEqual(state.tenants[0]!.mailboxes[0]!.fullAccess, [t.servicePrincipalObjectId], 'scenarios do not add up');
  fixture.emu.setScenario('healthy');
  assert.deepEqual(fixture.emu.getState(), baseline);
  assert.throws(() => fixture.emu.setScenario('no-such-thing'), /unknown scenario "no-such-thing"; known: healthy, /);
});
