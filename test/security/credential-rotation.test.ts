/**
 * Security replay for credential rotation (issue 17 item 3): the secondary credential is a
 * credential too. A change of where credentials go (SMTP host, authority, cloud...) must not
 * carry a stored secondary to the new destination (failover would send it there): it must be
 * dropped in the same request; a secondary from the environment refuses the move here. And an
 * ordinary settings change cannot set a secondary (only the audited rotation steps can).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { credentialDestinationProblems } from '../../src/core/credential-destinations.js';
import type { RawSettings } from '../../src/core/settings.js';

const BEFORE: RawSettings = { tenantId: 'contoso.onmicrosoft.com', clientId: '3cc0b6a1-1111-4222-8333-444455556666', clientSecret: 'primary-secret', clientSecretSecondary: 'secondary-secret', authorizedFrom: 'a@contoso.com' };

describe('security: the secondary credential is never redirected', () => {
  it('moving the SMTP host with the primary re-entered but the secondary kept is refused, naming the secondary', () => {
    const patch = { smtpHost: 'smtp.attacker.example', clientSecret: 'primary-secret' };
    const problems = credentialDestinationProblems({ before: BEFORE, after: { ...BEFORE, ...patch }, patch, envKeys: [] });
    assert.deepEqual(problems.map((p) => p.key), ['clientSecretSecondary']);
    assert.match(problems[0]!.message, /secondary credential, which would follow the primary to the new SMTP Client Server: remove it/);
    assert.ok(!problems[0]!.message.includes('secondary-secret'));
  });

  it('re-typing the secondary is not enough (it is dropped, then added again through the rotation steps)', () => {
    const patch = { authorityHost: 'https://login.attacker.example', clientSecret: 'primary-secret', clientSecretSecondary: 'secondary-secret' };
    const problems = credentialDestinationProblems({ before: BEFORE, after: { ...BEFORE, ...patch }, patch, envKeys: [] });
    assert.deepEqual(problems.map((p) => p.key), ['clientSecretSecondary']);
  });

  it('dropping the secondary in the same request passes', () => {
    const patch = { smtpHost: 'smtp.other.example', clientSecret: 'primary-secret', clientSecretSecondary: null };
    const after: RawSettings = { ...BEFORE, smtpHost: 'smtp.other.example' };
    delete after.clientSecretSecondary;
    assert.deepEqual(credentialDestinationProblems({ before: BEFORE, after, patch, envKeys: [] }), []);
  });

  it('a secondary from the environment refuses the move here (it is moved where it is set)', () => {
    const patch = { cloud: 'gcc-high', clientSecret: 'primary-secret' };
    const problems = credentialDestinationProblems({ before: BEFORE, after: { ...BEFORE, ...patch }, patch, envKeys: ['clientSecretSecondary'] });
    assert.deepEqual(problems.map((p) => p.key), ['clientSecretSecondary']);
    assert.match(problems[0]!.message, /comes from the environment/);
  });

  it('a secondary certificate file counts too', () => {
    const before: RawSettings = { ...BEFORE, clientSecretSecondary: undefined, clientCertificatePathSecondary: '/etc/mailgate/next.pem' };
    const patch = { smtpPort: 2525, clientSecret: 'primary-secret' };
    const problems = credentialDestinationProblems({ before, after: { ...before, ...patch }, patch, envKeys: [] });
    assert.deepEqual(problems.map((p) => p.key), ['clientCertificatePathSecondary']);
  });
});
