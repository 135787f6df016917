/**
 * The doctor's public API: run every check and get the report, render it as text, and build
 * the Exchange Online set-up script. The CLI, the HTTP API and the admin page import from here.
 *
 * Imports: the modules of this folder only.
 */
export { runDoctor, validateDoctorOptions, scrubReport } from './run-doctor.js';
export { runSenderDoctor, runSendersDoctor, runSettingsAsSender, senderSettings, type SenderCredential, type SenderDescription, type SendersReport } from './sender-doctor.js';
export { renderReport, type RenderOptions } from './render-report.js';
export { buildSetupScript, OBJECT_ID_PLACEHOLDER, type SetupScriptOptions, type SetupScriptSettings } from './setup-script.js';
export { findServicePrincipalObjectId } from './service-principal-oid.js';
export { psQuote } from './powershell.js';
export { CHECK_IDS, OPTIONAL_CHECK_IDS, type CheckId, type CheckResult, type CheckStatus, type DoctorOptions, type DoctorReport } from './types.js';
