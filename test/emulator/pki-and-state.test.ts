// Pure parts of the emulator: its PKI, the client-certificate utility, the state schema and
// builders, the XOAUTH2 parser and the decision functions. (No server is started here.)
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { describe, test } from 'node:test';
import { buildTenantState, createClientCertificate, demoState, mergeStates, parseState, findTenant } from '../../src/emulator/index.js';
import { createEmulatorPki } from '../../src/emulator/pki.js';
import { parseXoauth2Response } from '../../src/emulator/xoauth2-auth.js';
import { decideSendAs } from '../../src/emulator/send-rules.js';
import { xoauth2 } from '../helpers/emulator-client.js';

describe('PKI', () => {
  test('the server certificate is issued by the CA for localhost, 127.0.0.1 and ::1 and passes a TLS handshake', async () => {
    const pki = await createEmulatorPki();
    const ca = new X509Certificate(pki.caPem);
    const server = new X509Certificate(pki.serverCertPem);
    assert.equal(ca.ca, true);
    assert.equal(server.checkIssued(ca), true);
    assert.equal(server.verify(ca.publicKey), true);
    assert.equal(server.checkHost('localhost'), 'localhost');
    assert.equal(server.checkIP('127.0.0.1'), '127.0.0.1');
    const listener = tls.createServer({ key: pki.serverKeyPem, cert: pki.serverCertPem }, (s) => s.end());
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const port = (listener.address() as { port: number }).port;
    const authorized = await new Promise<boolean>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: pki.caPem }, () => { resolve(s.authorized); s.destroy(); });
      s.on('error', reject);
    });
    listener.close();
    assert.equal(authorized, true);
  });

  test('createClientCertificate makes a self-signed RSA cert, a PKCS#8 key and its thumbprints', async () => {
    const cert = await createClientCertificate({ commonName: 'unit' });
    const x509 = new X509Certificate(cert.certPem);
    assert.equal(x509.subject, 'CN=unit');
    assert.equal(x509.publicKey.asymmetricKeyType, 'rsa');
    assert.match(cert.privateKeyPem, /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(cert.thumbprintSha256, x509.fingerprint256.replace(/:/g, '').toLowerCase());
    assert.equal(cert.thumbprintSha1, x509.fingerprint.replace(/:/g, ''));
    assert.ok(Date.parse(cert.expires) > Date.now());
  });
});

describe('state', () => {
  test('demoState is a valid, fully set-up tenant with a fresh secret each time', () => {
    const a = demoState();
    const b = demoState();
    assert.notEqual(a.clientSecret, b.clientSecret);
    assert.equal(a.clientSecret!.length, 40);
    const tenant = a.state.tenants[0]!;
    assert.deepEqual(tenant.apps[0]!.consentedRoles, ['SMTP.SendAsApp', 'Mail.Send']);
    assert.deepEqual(tenant.exchangeServicePrincipals, [{ appId: a.clientId, objectId: a.servicePrincipalObjectId }]);
    assert.deepEqual(tenant.mailboxes[0]!.fullAccess, [a.servicePrincipalObjectId]);
  });

  test('buildTenantState reproduces each missed step', () => {
    assert.deepEqual(buildTenantState({ consentedRoles: [] }).state.tenants[0]!.apps[0]!.consentedRoles, []);
    assert.deepEqual(buildTenantState({ exchangeServicePrincipal: 'missing' }).state.tenants[0]!.exchangeServicePrincipals, []);
    const wrong = buildTenantState({ exchangeServicePrincipal: 'applicationObjectId' });
    assert.equal(wrong.state.tenants[0]!.exchangeServicePrincipals[0]!.objectId, wrong.applicationObjectId);
    assert.deepEqual(buildTenantState({ fullAccess: false }).state.tenants[0]!.mailboxes[0]!.fullAccess, []);
    assert.equal(buildTenantState({ tenantSmtpAuthDisabled: true }).state.tenants[0]!.smtpAuthDisabled, true);
    assert.equal(buildTenantState({ mailboxSmtpAuthDisabled: true }).state.tenants[0]!.mailboxes[0]!.smtpAuthDisabled, true);
    assert.equal(buildTenantState({ appEnabled: false }).state.tenants[0]!.apps[0]!.enabled, false);
    assert.equal(buildTenantState({ clientSecret: null }).state.tenants[0]!.apps[0]!.secrets.length, 0);
  });

  test('parseState applies defaults and reports every problem with its path', () => {
    const minimal = parseState({ tenants: [{ id: '0d4f9e6a-7d5c-4c1b-9a3e-2f1d0c9b8a7e', domains: ['contoso.com'], mailboxes: [{ address: 'a@contoso.com' }] }] });
    assert.ok(minimal.ok);
    assert.equal(minimal.state.tenants[0]!.smtpAuthDisabled, false);
    assert.equal(minimal.state.tenants[0]!.mailboxes[0]!.smtpAuthDisabled, null);
    assert.equal(minimal.state.tenants[0]!.mailboxes[0]!.basicAuthPassword, null);
    const bad = parseState({ tenants: [{ id: 'x', domains: [], apps: [{ appId: 'y', applicationObjectId: 'z', servicePrincipalObjectId: 'w', secrets: [{ id: 'q', value: '', expires: 'soon' }] }] }] });
    assert.equal(bad.ok, false);
    if (!bad.ok) {
      for (const path of ['tenants.0.id', 'tenants.0.domains', 'tenants.0.apps.0.appId', 'tenants.0.apps.0.secrets.0.expires', 'tenants.0.apps.0.secrets.0.value']) {
        assert.ok(bad.problems.some((p) => p.startsWith(`${path}: `)), `${path} in ${bad.problems.join('; ')}`);
      }
    }
  });

  test('a certificate whose thumbprint does not match its PEM is reported', async () => {
    const cert = await createClientCertificate();
    const state = buildTenantState({ certificates: [cert] }).state;
    state.tenants[0]!.apps[0]!.certificates[0]!.thumbprintSha256 = 'ab'.repeat(32);
    const result = parseState(state);
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.problems.join(), /does not match the certificate/);
  });

  test('duplicate domains across tenants and mailboxes outside the tenant\'s domains are reported', () => {
    assert.throws(() => mergeStates(buildTenantState(), buildTenantState()), /belongs to two tenants/);
    const state = buildTenantState().state;
    state.tenants[0]!.mailboxes[0]!.address = 'noreply@elsewhere.com';
    assert.match((parseState(state) as { problems: string[] }).problems.join(), /not one of the tenant's domains/);
  });

  test('findTenant resolves a GUID or any domain, case-insensitively', () => {
    const t = buildTenantState({ domain: 'contoso.onmicrosoft.com', extraDomains: ['contoso.com'] });
    assert.equal(findTenant(t.state, t.tenantId.toUpperCase())?.id, t.tenantId);
    assert.equal(findTenant(t.state, 'CONTOSO.com')?.id, t.tenantId);
    assert.equal(findTenant(t.state, 'fabrikam.com'), undefined);
  });
});

describe('XOAUTH2 parsing and SendAs', () => {
  test("Microsoft's test vector decodes to its user and token", () => {
    const vector = 'dXNlcj10ZXN0QGNvbnRvc28ub25taWNyb3NvZnQuY29tAWF1dGg9QmVhcmVyIEV3QkFBbDNCQUFVRkZwVUFvN0ozVmUwYmpMQldaV0NjbFJDM0VvQUEBAQ==';
    assert.deepEqual(parseXoauth2Response(vector), { user: 'test@contoso.onmicrosoft.com', token: 'EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA' });
    assert.equal(xoauth2('test@contoso.onmicrosoft.com', 'EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA'), vector);
  });

  test('anything else is rejected', () => {
    for (const bad of ['', '====', 'not base64!', Buffer.from('user=a@b.c').toString('base64'), Buffer.from('auth=Bearer x').toString('base64'), Buffer.from('user=a\nb@c\x01auth=Bearer t\x01\x01').toString('base64')]) {
      assert.equal(parseXoauth2Response(bad), undefined, bad);
    }
  });

  test('SendAs: own mailbox always; others only when their sendAs lists the oid or the authenticated mailbox', () => {
    const t = buildTenantState({ extraMailboxes: [{ address: 'a@contoso.onmicrosoft.com', sendAs: ['noreply@contoso.onmicrosoft.com'] }, { address: 'b@contoso.onmicrosoft.com' }] });
    const base = { authenticatedMailbox: t.authorizedFrom, oid: t.servicePrincipalObjectId, envelopeFrom: t.authorizedFrom };
    assert.equal(decideSendAs(t.state, { ...base, headerFrom: [t.authorizedFrom.toUpperCase()] }).ok, true);
    assert.equal(decideSendAs(t.state, { ...base, headerFrom: ['a@contoso.onmicrosoft.com'] }).ok, true);
    assert.equal(decideSendAs(t.state, { ...base, headerFrom: ['b@contoso.onmicrosoft.com'] }).ok, false);
  });
});
