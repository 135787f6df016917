/**
 * The administrator's IDs the diagnosis tests fill fix texts and commands with (the values of
 * the reply fixtures' tenant), shared by the core diagnosis tests and the adapter tests.
 */
import type { DiagnosisContext } from '../../src/core/diagnosis/types.js';

export const FIXTURE_CONTEXT: DiagnosisContext = {
  clientId: '6731de76-14a6-49ae-97bc-6eba6914391e',
  tenantId: '8f3c2a1b-4d5e-4f60-9a7b-1c2d3e4f5a6b',
  authorizedFrom: 'app@contoso.com',
  smtpHost: 'smtp.office365.com',
  smtpPort: 587,
  authorityHost: 'https://login.microsoftonline.com',
  scope: 'https://outlook.office365.com/.default',
  servicePrincipalObjectId: '6d9e1f2a-3b4c-4d5e-8f90-a1b2c3d4e5f6',
};
