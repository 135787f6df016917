/**
 * Describes the credentials of the Email Settings for core/credential-expiry.ts: the client
 * certificate (its `notAfter`, its SHA-1 thumbprint) or the client secret (the "Client Secret
 * expires" setting), with the real `endDateTime` from Microsoft Graph when the app could read
 * itself (./app-credentials-graph.ts) — Graph wins over the typed date, which may be stale.
 *
 * Why it exists: the service's expiry monitor and the doctor describe credentials the same way.
 * It takes one settings object today and returns a list; with named credentials (several app
 * registrations, primary and secondary), the caller calls it once per credential and passes
 * that credential's name (`credential`), concatenating the lists.
 *
 * Matching with Graph: a secret's entry is the one whose `hint` is the first three characters of
 * the configured value (several match: the soonest, the safe choice); a certificate's, the one
 * whose thumbprint is the configured certificate's.
 *
 * Imports: src/core (settings types, credential-expiry), ./client-certificate, ./app-credentials-graph (types).
 */
import { parseExpiryDate, type CredentialExpiryInput } from '../core/credential-expiry.js';
import type { EmailSettings } from '../core/settings.js';
import type { AppCredentialFacts } from './app-credentials-graph.js';
import { readClientCertificate } from './client-certificate.js';

export async function describeSettingsCredentials(settings: EmailSettings, o: { credential?: string; graph?: AppCredentialFacts } = {}): Promise<CredentialExpiryInput[]> {
  if (!settings.useModernAuth) return [];
  const base = { credential: o.credential ?? 'default', clientId: settings.clientId, tenantId: settings.tenantId, cloud: settings.cloud };
  if (settings.clientCertificatePath || settings.clientCertificatePem) {
    try {
      const c = await readClientCertificate({ path: settings.clientCertificatePath, pem: settings.clientCertificatePem });
      return [{ ...base, kind: 'client-certificate', expiresAt: c.notAfter.getTime(), source: 'certificate', thumbprintSha1: c.thumbprintSha1 }];
    } catch {
      // An unreadable certificate is the delivery problem's to report, not an expiry.
      return [{ ...base, kind: 'client-certificate' }];
    }
  }
  if (!settings.clientSecret) return [];
  const hint = settings.clientSecret.reveal().trim().slice(0, 3);
  const fromGraph = o.graph?.passwordCredentials.filter((p) => p.hint === hint).sort((a, b) => a.endDateTime - b.endDateTime)[0];
  if (fromGraph) return [{ ...base, kind: 'client-secret', expiresAt: fromGraph.endDateTime, source: 'graph' }];
  const typed = settings.clientSecretExpires ? parseExpiryDate(settings.clientSecretExpires) : undefined;
  return [{ ...base, kind: 'client-secret', ...(typed !== undefined ? { expiresAt: typed, source: 'setting' as const } : {}) }];
}
