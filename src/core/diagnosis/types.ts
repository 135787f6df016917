/**
 * The shape of a diagnosis: what `diagnose(error)` returns, and what the CLI, the HTTP API,
 * the doctor and the admin page show. Kept apart from the rule tables so every consumer can
 * import the type without the tables.
 */

export interface Diagnosis {
  /** Stable id of the rule that matched, e.g. `aadsts-7000215`, `smtp-535-5.7.3`, `connect-timeout`. */
  id: string;
  /** One sentence: what went wrong, in the administrator's words. */
  summary: string;
  /** Likely causes, most likely first. */
  causes: string[];
  /** What to do, in plain words, in the order to try. */
  fixes: string[];
  /** Ready-to-run commands (PowerShell, shell) with the administrator's own IDs filled in. */
  commands?: string[];
  /** Links to Microsoft documentation. */
  docs?: string[];
}

/**
 * Values that fill the commands in a diagnosis. All optional: where a value is unknown the
 * command carries a clearly marked placeholder such as `<Enterprise Application Object ID>`.
 */
export interface DiagnosisContext {
  clientId?: string;
  tenantId?: string;
  authorizedFrom?: string;
  /** The From address of the failed message when it differs from authorizedFrom. */
  from?: string;
  smtpHost?: string;
  smtpPort?: number;
  authorityHost?: string;
  /** The service principal (Enterprise Application) object id: the token's `oid` claim. */
  servicePrincipalObjectId?: string;
}
