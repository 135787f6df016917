/**
 * The doctor resolves and reaches the Microsoft Graph endpoint with Transport graph or auto
 * (issue 15 item 6, like the SMTP host's dns and tcp checks): a Graph endpoint whose name does
 * not resolve fails `dns` naming it, one that refuses TCP fails `graph-reach`, and either way
 * `graph-send` is skipped and Automatic is told Graph cannot send. Against the emulator (real
 * sockets, real TLS); before, the Graph host was never looked up or connected to by the doctor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { parseSettings } from '../../src/core/settings.js';
import { contextFor } from '../../src/core/diagnosis/index.js';
import { decideDns, hostsToResolve } from '../../src/doctor/checks/dns-check.js';
import { runDoctor } from '../../src/doctor/run-doctor.js';
import type { DoctorReport } from '../../src/doctor/types.js';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';

const fixture = useEmulatedTenants();

const by = (r: DoctorReport, id: string) => r.checks.find((c) => c.id === id);

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

test('hostsToResolve: the Graph endpoint host with Transport graph or auto, not with smtp', () => {
  const base = { clientId: '11111111-2222-3333-4444-555555555555', tenantId: '66666666-7777-8888-9999-000000000000', clientSecret: 'Xy7~topsecret.value-abc123', authorizedFrom: 'app@contoso.com' };
  const roles = (transport: string) => {
    const p = parseSettings({ ...base, transport });
    assert.ok(p.ok);
    return hostsToResolve(p.settings).map((h) => `${h.role}:${h.host}`);
  };
  assert.deepEqual(roles('smtp'), ['smtp:smtp.office365.com', 'authority:login.microsoftonline.com']);
  assert.deepEqual(roles('graph'), ['smtp:smtp.office365.com', 'authority:login.microsoftonline.com', 'graph:graph.microsoft.com']);
  assert.deepEqual(roles('auto'), ['smtp:smtp.office365.com', 'authority:login.microsoftonline.com', 'graph:graph.microsoft.com']);
  const p = parseSettings({ ...base, transport: 'graph' });
  assert.ok(p.ok);
  const d = decideDns([{ role: 'smtp', host: 'smtp.office365.com', addresses: ['52.97.1.1'] }, { role: 'graph', host: 'graph.microsfot.com', error: 'ENOTFOUND' }], contextFor(p.settings));
  assert.equal(d.status, 'fail');
  assert.match(d.summary, /Microsoft Graph endpoint graph\.microsfot\.com does not resolve \(ENOTFOUND\)/);
  assert.match(d.fix!, /MAILGATE_GRAPH_ENDPOINT/);
  assert.deepEqual(d.commands, ['Resolve-DnsName graph.microsfot.com']);
  assert.deepEqual(d.details?.graphHost, { host: 'graph.microsfot.com', error: 'ENOTFOUND' });
});

test('Transport graph: the Graph endpoint resolves and is reached (graph-reach passes), and a test message goes', async () => {
  const t = fixture.tenant();
  const report = await runDoctor(fixture.rawFor(t, { transport: 'graph', graphEndpoint: fixture.emu.graph }), { ca: fixture.emu.caPem, to: 'someone@fabrikam.example' });
  assert.equal(by(report, 'dns')?.status, 'pass');
  assert.match(by(report, 'dns')!.summary, /Microsoft Graph endpoint 127\.0\.0\.1 is an IP address/);
  assert.equal(by(report, 'graph-reach')?.status, 'pass');
  assert.equal(by(report, 'graph-send')?.status, 'pass');
  const ids = report.checks.map((c) => c.id);
  assert.ok(ids.indexOf('graph-reach') < ids.indexOf('graph-token'), 'graph-reach comes before graph-token');
});

test('Transport graph: a Graph endpoint name that does not resolve fails dns naming it; graph-reach and graph-send are skipped', async () => {
  const t = fixture.tenant();
  const port = new URL(fixture.emu.graph).port;
  const looked: string[] = [];
  const lookup = async (host: string) => {
    looked.push(host);
    throw Object.assign(new Error('nope'), { code: 'ENOTFOUND' });
  };
  const report = await runDoctor(fixture.rawFor(t, { transport: 'graph', graphEndpoint: `https://graph.nowhere.invalid:${port}` }), { ca: fixture.emu.caPem, to: 'someone@fabrikam.example', lookup });
  assert.ok(looked.includes('graph.nowhere.invalid'), `looked up: ${looked.join(', ')}`);
  const dns = by(report, 'dns')!;
  assert.equal(dns.status, 'fail');
  assert.match(dns.summary, /Microsoft Graph endpoint graph\.nowhere\.invalid does not resolve \(ENOTFOUND\)/);
  assert.ok(dns.commands?.includes('Resolve-DnsName graph.nowhere.invalid'));
  assert.equal(by(report, 'graph-reach')?.status, 'skip');
  assert.equal(by(report, 'graph-send')?.status, 'skip');
  assert.match(by(report, 'graph-send')!.summary, /does not resolve/);
  assert.equal(report.ok, false);
});

test('Transport auto: a Graph endpoint that refuses TCP fails graph-reach; SMTP works, so Automatic sends by SMTP', async () => {
  const t = fixture.tenant();
  const port = await closedPort();
  const report = await runDoctor(fixture.rawFor(t, { transport: 'auto', graphEndpoint: `https://127.0.0.1:${port}` }), { ca: fixture.emu.caPem, to: 'someone@fabrikam.example', timeoutMs: 3000 });
  const reach = by(report, 'graph-reach')!;
  assert.equal(reach.status, 'fail');
  assert.match(reach.summary, new RegExp(`Microsoft Graph endpoint 127\\.0\\.0\\.1:${port} was refused`));
  assert.deepEqual(reach.commands, [`Test-NetConnection -ComputerName 127.0.0.1 -Port ${port}`]);
  assert.match(reach.fix!, /Automatic sends by SMTP only/);
  assert.equal(by(report, 'graph-send')?.status, 'skip');
  assert.equal(by(report, 'smtp-auth')?.status, 'pass');
  const route = by(report, 'auto-route')!;
  assert.equal(route.details?.transport, 'smtp');
});
