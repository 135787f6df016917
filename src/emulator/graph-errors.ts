/**
 * Microsoft Graph's error answers for the mail endpoints (docs/m365.md §6.4, §13): the HTTP
 * status, `error.code` and `error.message` of each refusal the emulated Graph gives, and the body
 * shape Graph uses: `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`
 * (`date` in UTC without fractions or zone, as observed).
 *
 * Why it exists: the product's Graph transport classifies failures by these codes and its tests
 * pin the bodies; one reviewable table keeps the wording in one place. Texts marked "emulator
 * wording" have no Microsoft source and are our best guess; the others are quoted from Microsoft
 * documentation or from bodies people pasted from the real service.
 *
 * Imports: nothing.
 */

export interface GraphErrorSpec {
  status: number;
  code: string;
  message: string;
}

const spec = (status: number, code: string, message: string): GraphErrorSpec => ({ status, code, message });

export const GRAPH_ERRORS = {
  // ---- 401: the bearer token (observed texts) ------------------------------------------------
  tokenEmpty: spec(401, 'InvalidAuthenticationToken', 'Access token is empty.'),
  tokenNotJwt: spec(401, 'InvalidAuthenticationToken', 'CompactToken parsing failed with error code: 80049217'),
  tokenInvalid: spec(401, 'InvalidAuthenticationToken', 'Access token validation failure.'),
  tokenAudience: spec(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.'),
  tokenExpired: spec(401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.'),
  // ---- 403 --------------------------------------------------------------------------------------
  accessDenied: spec(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.'),
  /** An Application Access Policy excludes the mailbox (text as seen from the real service). */
  accessPolicyBlocked: spec(403, 'ErrorAccessDenied', 'Access to OData is disabled: Blocked by tenant configured AppOnly AccessPolicy settings.'),
  sendAsDenied: spec(403, 'ErrorSendAsDenied', 'The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message.'),
  // ---- 404 --------------------------------------------------------------------------------------
  mailboxNotEnabled: spec(404, 'MailboxNotEnabledForRESTAPI', 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.'),
  resourceNotFound: spec(404, 'ResourceNotFound', 'Resource could not be discovered.'),
  /** The message names the user as sent: `The requested user '<id>' is invalid.` (see `invalidUserMessage`). */
  invalidUser: spec(404, 'ErrorInvalidUser', "The requested user '{user}' is invalid."),
  itemNotFound: spec(404, 'ErrorItemNotFound', 'The specified object was not found in the store.'),
  // ---- 400 --------------------------------------------------------------------------------------
  meWithAppToken: spec(400, 'BadRequest', '/me request is only valid with delegated authentication flow.'),
  invalidBase64: spec(400, 'ErrorMimeContentInvalidBase64String', 'Invalid base64 string for MIME content.'),
  /** Emulator wording (the code is Exchange's). */
  invalidMime: spec(400, 'ErrorMimeContentInvalid', 'The MIME content is invalid.'),
  emptyPayload: spec(400, 'BadRequest', 'Empty Payload. JSON content expected.'),
  invalidJson: spec(400, 'BadRequest', 'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.'),
  noRecipients: spec(400, 'ErrorInvalidRecipients', "At least one recipient is not valid., A message can't be sent because it contains no recipients."),
  /** Emulator wording: the minimum size of an upload session (3 MB) is Microsoft's. */
  attachmentTooSmall: spec(400, 'ErrorAttachmentSizeShouldNotBeLessThanMinimumSize', 'Attachment size must be greater than the minimum size.'),
  /** Emulator wording. */
  uploadHasAuthorization: spec(400, 'ErrorInvalidRequest', 'The upload URL is pre-authenticated: send no Authorization header to it.'),
  /** Emulator wording. */
  invalidRange: spec(416, 'ErrorInvalidRange', 'The Content-Range does not continue the upload at the next expected byte.'),
  // ---- 413 --------------------------------------------------------------------------------------
  /** The message is observed; the code is emulator wording (Graph's front door, before Exchange). */
  requestTooLarge: spec(413, 'RequestEntityTooLarge', 'The maximum request length supported is 4MB.'),
  messageTooLarge: spec(413, 'ErrorMessageSizeExceeded', 'The message exceeds the maximum supported size.'),
  // ---- 415 / 405 (emulator wording) ---------------------------------------------------------
  unsupportedMediaType: spec(415, 'UnsupportedMediaType', 'The Content-Type must be application/json, or text/plain for a base64 MIME message.'),
  // ---- 429 / 503 / 504 --------------------------------------------------------------------------
  mailboxConcurrency: spec(429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.'),
  /** Emulator wording (Graph's documented code). */
  serviceUnavailable: spec(503, 'ServiceNotAvailable', 'The service is temporarily unavailable. Please try again later.'),
  /** Emulator wording. */
  gatewayTimeout: spec(504, 'GatewayTimeout', 'The upstream service did not answer in time.'),
} as const satisfies Record<string, GraphErrorSpec>;

export const invalidUserMessage = (user: string): string => `The requested user '${user}' is invalid.`;

/** Graph's `innerError.date`: UTC, seconds precision, no zone (e.g. `2022-03-17T16:05:41`). */
export const graphDate = (now: Date): string => now.toISOString().slice(0, 19);

export interface GraphErrorBody {
  error: { code: string; message: string; innerError: { date: string; 'request-id': string; 'client-request-id': string } };
}

export function graphErrorBody(error: GraphErrorSpec, ids: { requestId: string; clientRequestId: string }, now: Date, message = error.message): GraphErrorBody {
  return {
    error: {
      code: error.code,
      message,
      innerError: { date: graphDate(now), 'request-id': ids.requestId, 'client-request-id': ids.clientRequestId },
    },
  };
}

/** The default error of a scripted fault with this status (429 is Graph's mailbox throttle). */
export function faultError(status: number): GraphErrorSpec {
  if (status === 429) return GRAPH_ERRORS.mailboxConcurrency;
  if (status === 503) return GRAPH_ERRORS.serviceUnavailable;
  if (status === 504) return GRAPH_ERRORS.gatewayTimeout;
  return spec(status, 'UnknownError', 'An internal server error occurred.');
}
