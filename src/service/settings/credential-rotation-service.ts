/**
 * PLACEHOLDER (rotadmin branch): the types of the credential rotation service as agreed with the
 * rotcore branch, copied here only so the admin page compiles before rotcore's commit is merged.
 * On merge, take rotcore's version of this file.
 *
 * Imports: nothing.
 */
export interface CredentialSlotView { kind: 'secret' | 'certificate'; expires?: string; thumbprint?: string; hint?: string; addedAt?: string; lastTest?: { at: string; ok: boolean; code?: string; summary?: string } }
export interface CredentialRotationView { name: string; source: 'settings' | 'stored' | 'file' | 'environment'; readOnly: boolean; primary: CredentialSlotView | null; secondary: CredentialSlotView | null; active: 'primary' | 'secondary'; failover?: { at: string; code: string } }
export interface CredentialRotation {
  list(): CredentialRotationView[];
  get(name: string): CredentialRotationView | undefined;
  addSecondary(name: string, input: { clientSecret?: string; clientCertificate?: string; clientSecretExpires?: string }, actor: string): Promise<CredentialRotationView>;
  test(name: string, slot: 'primary' | 'secondary', actor: string): Promise<{ ok: boolean; code?: string; summary?: string; fixes?: string[] }>;
  promote(name: string, actor: string, options?: { force?: boolean }): Promise<CredentialRotationView>;
  removeSecondary(name: string, actor: string): Promise<CredentialRotationView>;
}
