/**
 * GET /admin/diagnostics/setup-script.ps1[?oid=GUID]: the Exchange Online set-up script for
 * the saved settings (`buildSetupScript` from src/doctor), as a download.
 *
 * Why a query parameter for the object id: the Diagnostics page learns the service principal's
 * object id (the token's oid) when it runs; putting it in the link keeps this route stateless.
 * The value is accepted only as a GUID, and the script builder quotes every value for
 * PowerShell. Without valid settings the page explains what is missing instead.
 *
 * Imports: src/core/settings, src/doctor, ../context, ../layout, ../html, ./doctor-report.
 */
import type { CloudId } from '../../core/clouds.js';
import { buildSetupScript, type SetupScriptSettings } from '../../doctor/index.js';
import type { Admin, AdminContext } from '../context.js';
import { html } from '../html.js';
import { renderPage } from '../layout.js';
import { isGuid } from '../../core/settings.js';

function scriptSettings(a: Admin): SetupScriptSettings | undefined {
  const s = a.deps.settings.settings();
  if (s) return { authorizedFrom: s.authorizedFrom, cloud: s.cloud, clientId: s.clientId, tenantId: s.tenantId };
  const v = a.deps.settings.view().values;
  if (typeof v.authorizedFrom !== 'string' || !v.authorizedFrom) return undefined;
  return {
    authorizedFrom: v.authorizedFrom,
    cloud: (typeof v.cloud === 'string' ? v.cloud : 'global') as CloudId,
    clientId: typeof v.clientId === 'string' ? v.clientId : undefined,
    tenantId: typeof v.tenantId === 'string' ? v.tenantId : undefined,
  };
}

export function setupScriptResponse(a: Admin, c: AdminContext): Response {
  const oidParam = c.req.query('oid');
  const oid = oidParam !== undefined && isGuid(oidParam) ? oidParam.toLowerCase() : undefined;
  const settings = scriptSettings(a);
  let script: string | undefined;
  if (settings) {
    try {
      script = buildSetupScript(settings, oid ? { servicePrincipalObjectId: oid } : { objectIdUnavailableReason: 'run Diagnostics on the admin page to read it from the access token' });
    } catch (error) {
      a.deps.logger.warn({ err: error }, 'admin page: setup script not built');
    }
  }
  if (!script) {
    const body = html`<p class="notice">The set-up script needs at least a valid Authorized from Address (and the Application (client) ID and Directory (tenant) ID to be complete). <a href="${a.url('/settings')}">Complete the Email Settings</a>, then download it again.</p>`;
    return renderPage(a, c, { title: 'Set-up script unavailable', active: 'diagnostics', body, status: 409 });
  }
  return new Response(script, {
    status: 200,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'content-disposition': 'attachment; filename="mailgate-setup.ps1"' },
  });
}
