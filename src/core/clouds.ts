/**
 * The Microsoft clouds and the endpoints each one implies.
 *
 * Why: choosing a cloud must set the authority host, the SMTP host, the token scope and the
 * Graph host and scope together; mixing them fails (a token from one cloud is refused by another).
 * Sources: docs/m365.md §1.1, §1.3, §3.1.
 *
 * Only the global values are confirmed by Microsoft documentation. For the national clouds the
 * SMTP host and the scope come from Microsoft's endpoint lists and community code
 * (docs/m365.md marks them **unconfirmed**). The safe behaviour chosen here: use them as defaults,
 * let every value be overridden by its own setting (smtpHost, authorityHost, scope), and have
 * the doctor report the values in use so an administrator can compare them with their tenant.
 */

export const CLOUD_IDS = ['global', 'gcc-high', 'dod', 'china'] as const;
export type CloudId = (typeof CLOUD_IDS)[number];

export interface CloudEndpoints {
  label: string;
  authorityHost: string;
  smtpHost: string;
  /** The client-credentials scope for SMTP AUTH (Exchange Online resource + /.default). */
  smtpScope: string;
  /** The Microsoft Graph endpoint (scheme and host) the Graph transport posts to. */
  graphHost: string;
  /** The client-credentials scope for Graph (the Graph resource + /.default); follows the cloud. */
  graphScope: string;
  /** Whether the SMTP host and scope are confirmed by Microsoft documentation. */
  confirmed: boolean;
}

export const CLOUDS: Record<CloudId, CloudEndpoints> = {
  global: {
    label: 'Global',
    authorityHost: 'https://login.microsoftonline.com',
    smtpHost: 'smtp.office365.com',
    smtpScope: 'https://outlook.office365.com/.default',
    graphHost: 'https://graph.microsoft.com',
    graphScope: 'https://graph.microsoft.com/.default',
    confirmed: true,
  },
  'gcc-high': {
    label: 'GCC High',
    authorityHost: 'https://login.microsoftonline.us',
    // unconfirmed: community code uses smtp.office365.us; Microsoft's list names outlook.office365.us:587.
    smtpHost: 'smtp.office365.us',
    smtpScope: 'https://outlook.office365.us/.default', // unconfirmed
    graphHost: 'https://graph.microsoft.us',
    graphScope: 'https://graph.microsoft.us/.default',
    confirmed: false,
  },
  dod: {
    label: 'DoD',
    authorityHost: 'https://login.microsoftonline.us',
    // Microsoft's DoD endpoint list names outlook-dod.office365.us for TCP 587.
    smtpHost: 'outlook-dod.office365.us',
    smtpScope: 'https://outlook-dod.office365.us/.default', // unconfirmed
    graphHost: 'https://dod-graph.microsoft.us',
    graphScope: 'https://dod-graph.microsoft.us/.default',
    confirmed: false,
  },
  china: {
    label: 'China (21Vianet)',
    authorityHost: 'https://login.partner.microsoftonline.cn',
    smtpHost: 'smtp.partner.outlook.cn', // unconfirmed
    smtpScope: 'https://partner.outlook.cn/.default', // unconfirmed
    graphHost: 'https://microsoftgraph.chinacloudapi.cn',
    graphScope: 'https://microsoftgraph.chinacloudapi.cn/.default',
    confirmed: false,
  },
};

/** The token endpoint for a tenant: `{authorityHost}/{tenant}/oauth2/v2.0/token`. */
export function tokenEndpoint(authorityHost: string, tenant: string): string {
  return `${authorityHost.replace(/\/+$/, '')}/${encodeURIComponent(tenant)}/oauth2/v2.0/token`;
}
