/**
 * The shape of a diagnosis: what `diagnose(error)` returns, and what the CLI, the HTTP API,
 * the doctor and the admin page show. Kept apart from the rule tables so every consumer can
 * import the type without the tables.
 *
 * Imports: nothing.
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
 *
 * Values are checked for shape before use (GUID, address, host name, port, URL); a value of
 * the wrong shape is treated as unknown, so a secret pasted into the wrong field never ends
 * up in a diagnosis.
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
  /** The token scope in use, e.g. `https://outlook.office365.com/.default`. */
  scope?: string;
  /**
   * The `roles` claim of the access token that was refused, when the caller decoded it
   * (the doctor does). Lets a `535 5.7.3` be narrowed down: no `SMTP.SendAsApp` role means
   * consent or the API permission is missing; with the role, the cause is on the Exchange side.
   */
  tokenRoles?: string[];
  /**
   * What the signed-in mailbox (authorizedFrom, the XOAUTH2 `user=`) is, when the caller knows it
   * (the doctor, from Exchange's configuration). Exchange answers a shared mailbox as `user=`
   * with the same `535 5.7.3` as every other OAuth refusal; knowing it is shared names the fix.
   */
  signInMailboxType?: 'user' | 'shared';
}

/**
 * One row of a rule table: the explanation of one failure. Every string may contain the
 * placeholders `{clientId}`, `{tenantId}`, `{authorizedFrom}`, `{from}`, `{oid}`,
 * `{smtpHost}`, `{smtpPort}`, `{authorityHost}`, `{authorityHostName}` and `{scope}`,
 * filled from the DiagnosisContext when a diagnosis is rendered.
 */
export interface DiagnosisRule {
  /** Stable id; never renamed (the doctor, the HTTP API and tests refer to it). */
  id: string;
  summary: string;
  causes: readonly string[];
  fixes: readonly string[];
  commands?: readonly string[];
  docs?: readonly string[];
}
