/**
 * The OpenAPI 3.1 document of the HTTP API, served without authentication at
 * GET /api/v1/openapi.json.
 *
 * Why generated: the request schemas are the validators' own zod schemas turned into JSON
 * Schema (`z.toJSONSchema`; OpenAPI 3.1 schemas are JSON Schema 2020-12), so the document cannot
 * drift from what the API accepts. Routes and responses are listed here by hand; a test checks
 * that every route of the Hono app is in the document and every documented route exists
 * (test/service/openapi.test.ts). The admin page (/admin) is a browser UI with CSRF-protected
 * forms, not part of the API, and is not documented here.
 *
 * Imports: zod, src/core (settings fields), ../message-request, ../../outbox/store types, ./routes schemas.
 */
import { z } from 'zod';
import { SETTINGS_FIELDS } from '../../../core/settings.js';
import { VERSION } from '../../../version.js';
import { messageRequestSchema } from '../message-request.js';
import { MESSAGE_STATUSES } from '../../outbox/store.js';
import { diagnosticsSchema } from './routes/ops.js';
import { testSchema } from './routes/settings.js';
import { relayClientCreateSchema } from './routes/relay-clients.js';
import { credentialSchema, senderSchema } from '../../../core/senders.js';
import { promoteBodySchema, secondaryBodySchema, testBodySchema } from './routes/credential-rotation.js';

type Json = Record<string, unknown>;

/** A zod schema as a JSON Schema for an OpenAPI 3.1 document (without its $schema line). */
function jsonSchema(schema: z.ZodType): Json {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Json;
  return rest;
}

const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } });
const json = (description: string, schema: Json) => ({ description, content: { 'application/json': { schema } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const body = (schema: Json, required = true) => ({ required, content: { 'application/json': { schema } } });

const AUTH_ERRORS = {
  '401': problem('No API key, a malformed Authorization header, or an unknown or revoked key (the detail says which).'),
  '403': problem('The key has too small a scope.'),
};
const INPUT_ERRORS = {
  '400': problem('The body is not valid JSON.'),
  '413': problem('The body is larger than MAILGATE_MAX_BODY_BYTES.'),
  '415': problem('The body is not sent as application/json.'),
  '422': problem('Invalid values: every problem is listed in errors, each with the field (key) and what is wrong.'),
};
const send = [{ apiKey: [] }];
const admin = [{ apiKey: [] }];

const nameParam = { name: 'name', in: 'path', required: true, schema: { type: 'string' } };
const slotView = { type: ['object', 'null'], properties: { kind: { type: 'string', enum: ['secret', 'certificate'] }, expires: { type: 'string' }, thumbprint: { type: 'string' }, hint: { type: 'string' }, addedAt: { type: 'string' }, lastTest: { type: 'object', properties: { at: { type: 'string' }, ok: { type: 'boolean' }, code: { type: 'string' }, summary: { type: 'string' } } } } };
const rotationView = { type: 'object', properties: { name: { type: 'string' }, source: { type: 'string', enum: ['settings', 'stored', 'file', 'environment'] }, readOnly: { type: 'boolean' }, primary: slotView, secondary: slotView, active: { type: 'string', enum: ['primary', 'secondary'] }, failover: { type: 'object', properties: { at: { type: 'string' }, code: { type: 'string' } } } } };

function settingsSchema(): Json {
  const properties: Record<string, Json> = {};
  // The secondary credential is set through the rotation routes, not PUT /api/v1/settings (there only null, to drop it).
  for (const f of SETTINGS_FIELDS.filter((x) => !x.rotation)) {
    const type = f.kind === 'boolean' ? ['boolean', 'string', 'null'] : f.kind === 'integer' ? ['integer', 'string', 'null'] : ['string', 'null'];
    properties[f.key] = {
      type,
      description: `${f.label} (${f.env}). ${f.description}${f.kind === 'secret' ? ' Write-only: never returned; omitted or "" keeps the stored value, null clears it.' : ' null or "" restores the default.'}`,
      ...(f.kind === 'enum' && f.values ? { enum: [...f.values, null] } : {}),
      ...(f.kind === 'secret' ? { writeOnly: true } : {}),
    };
  }
  return { type: 'object', properties, additionalProperties: false };
}

/** The document, built once per app (it depends on nothing at run time). */
export function openApiDocument(): Json {
  const messageView = {
    type: 'object',
    properties: {
      id: { type: 'string', format: 'uuid' },
      status: { type: 'string', enum: [...MESSAGE_STATUSES] },
      messageId: { type: 'string', description: 'The Message-ID header, stable across retries.' },
      to: { type: 'string' },
      subject: { type: 'string' },
      recipients: { type: 'integer' },
      attemptCount: { type: 'integer' },
      createdAt: { type: 'string', format: 'date-time' },
      updatedAt: { type: 'string', format: 'date-time' },
      nextAttemptAt: { type: ['string', 'null'], format: 'date-time' },
      expiresAt: { type: ['string', 'null'], format: 'date-time' },
      sentAt: { type: ['string', 'null'], format: 'date-time' },
      response: { type: ['string', 'null'], description: 'The server reply to the message (e.g. 250 2.0.0 OK).' },
      errorCode: { type: ['string', 'null'] },
      sender: { type: ['string', 'null'], description: 'The sender (From address) it is sent as; null for a message queued before any sender was configured.' },
    },
  };
  const relayClientSchema = {
    type: 'object',
    description: 'An SMTP relay client (a printer, scanner or application); never its password.',
    properties: {
      name: { type: 'string' },
      username: { type: 'string', description: 'The generated SMTP username.' },
      noAuth: { type: 'boolean', description: 'Recognised by its source address only (no SMTP AUTH).' },
      allowFrom: { type: 'array', items: { type: 'string' } },
      allowIp: { type: 'array', items: { type: 'string' } },
      fromPolicy: { type: 'string', enum: ['reject', 'rewrite'] },
      createdAt: { type: 'string', format: 'date-time' },
      revokedAt: { type: ['string', 'null'], format: 'date-time' },
      lastUsedAt: { type: ['string', 'null'], format: 'date-time' },
      messagesSent: { type: 'integer', description: 'Its messages delivered.' },
      messagesFailed: { type: 'integer', description: 'Its messages that failed for good (after the relay answered 250).' },
    },
  };
  const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Mailgate API',
      version: VERSION,
      description: 'Send application email through Microsoft 365 (SMTP XOAUTH2) with a durable outbox. Every failure is application/problem+json (RFC 9457).',
    },
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'An API key (mailgate apikey create NAME): scope send or admin.' },
      },
      schemas: {
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status'],
          properties: {
            type: { type: 'string', description: 'urn:mailgate:problem:<slug>' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            errors: { type: 'array', items: { type: 'object', required: ['key', 'message'], properties: { key: { type: 'string' }, message: { type: 'string' } } } },
          },
        },
        MessageRequest: jsonSchema(messageRequestSchema),
        Message: messageView,
        MessageDetail: {
          allOf: [
            ref('Message'),
            { type: 'object', properties: { attempts: { type: 'array', items: { type: 'object', properties: { attempt: { type: 'integer' }, at: { type: 'string', format: 'date-time' }, outcome: { type: 'string' }, reply: { type: ['string', 'null'] }, code: { type: ['string', 'null'] }, diagnosis: {} } } } } },
          ],
        },
        EmailSettings: settingsSchema(),
        RelayClientRequest: jsonSchema(relayClientCreateSchema),
        RelayClient: relayClientSchema,
      },
    },
    paths: {
      '/': { get: { summary: 'Redirects to the admin page (/admin).', security: [], responses: { '302': { description: 'To /admin.' } } } },
      '/healthz': { get: { summary: 'Liveness: the process answers.', security: [], responses: { '200': json('Alive.', { type: 'object', properties: { status: { const: 'ok' } } }) } } },
      '/readyz': {
        get: {
          summary: 'Readiness: the store accepts writes and the Email Settings can send. With Transport auto and an admin API key (Authorization: Bearer), the answer adds transportRoute {transport, reason, since, switches}: where Automatic sends now and why. With an admin API key, credentials lists each credential\'s expiry {credential, kind, expiresAt, source, daysLeft, severity, threshold, message} (warnings only: expiry never makes Mailgate unready).',
          security: [],
          responses: { '200': json('Ready.', { type: 'object' }), '503': problem('Not ready; every reason is listed in errors.') },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics (behind a bearer token when MAILGATE_METRICS_TOKEN is set).',
          security: [],
          responses: { '200': { description: 'Prometheus text format.', content: { 'text/plain': { schema: { type: 'string' } } } }, '401': problem('MAILGATE_METRICS_TOKEN is set and was not sent.') },
        },
      },
      '/api/v1/openapi.json': { get: { summary: 'This document.', security: [], responses: { '200': json('The OpenAPI 3.1 document.', { type: 'object' }) } } },
      '/api/v1/messages': {
        post: {
          summary: 'Submit a message to the outbox (scope send).',
          security: send,
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              schema: { type: 'string', minLength: 1, maxLength: 255 },
              description: 'Same as the body field idempotencyKey (either, or both when equal): a retry with the same key and content returns the first message (200) instead of sending twice; different content is 409.',
            },
          ],
          requestBody: body(ref('MessageRequest')),
          responses: {
            '202': json('Accepted and queued.', { type: 'object', properties: { id: { type: 'string' }, status: { type: 'string' }, messageId: { type: 'string' } } }),
            '200': json('The same idempotency key and content were accepted before: the first message.', { type: 'object' }),
            '409': problem('The idempotency key was used with different content.'),
            ...AUTH_ERRORS,
            ...INPUT_ERRORS,
            '422': problem('Invalid values (every problem in errors), or `from` is not a sender this key may use (type sender-not-allowed; `senders` lists the ones it may use).'),
            '503': problem('The outbox cannot store the message now (e.g. the disk is full); retry after Retry-After.'),
          },
        },
        get: {
          summary: 'List messages, newest first, with keyset paging (scope send).',
          security: send,
          parameters: [
            { name: 'status', in: 'query', schema: { type: 'string', enum: [...MESSAGE_STATUSES] } },
            { name: 'sender', in: 'query', schema: { type: 'string' }, description: 'Only messages sent as this sender (From address).' },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
            { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'The nextCursor of the previous page.' },
          ],
          responses: {
            '200': json('A page.', { type: 'object', properties: { items: { type: 'array', items: ref('Message') }, nextCursor: { type: ['string', 'null'] } } }),
            ...AUTH_ERRORS,
            '422': INPUT_ERRORS['422'],
          },
        },
      },
      '/api/v1/messages/{id}': {
        get: {
          summary: 'One message with its delivery attempts (scope send).',
          security: send,
          parameters: [idParam],
          responses: { '200': json('The message.', ref('MessageDetail')), ...AUTH_ERRORS, '404': problem('No such message.') },
        },
      },
      '/api/v1/messages/{id}/retry': {
        post: {
          summary: 'Queue a failed message again (scope admin). No body.',
          security: admin,
          parameters: [idParam],
          responses: { '202': json('Queued again.', { type: 'object' }), ...AUTH_ERRORS, '404': problem('No such message.'), '409': problem('The message has not failed.') },
        },
      },
      '/api/v1/settings/email': {
        get: { summary: 'The Email Settings, without secrets, with validity, problems and sources (scope admin).', security: admin, responses: { '200': json('The settings.', { type: 'object' }), ...AUTH_ERRORS } },
        put: {
          summary: 'Change the Email Settings (scope admin). Only the keys sent change; nothing is saved unless the result is valid.',
          security: admin,
          requestBody: body(ref('EmailSettings')),
          responses: { '200': json('The settings after the change.', { type: 'object' }), ...AUTH_ERRORS, ...INPUT_ERRORS, '409': problem('settings-conflict: another writer changed the settings at the same moment and retries did not settle it; send the change again.') },
        },
      },
      '/api/v1/settings/email/test': {
        post: {
          summary: 'Send a test message now with the settings in effect, outside the outbox (scope admin).',
          security: admin,
          requestBody: body(jsonSchema(testSchema)),
          responses: {
            '200': json('Sent ({ok:true, response, messageId}), or the failure with its diagnosis ({ok:false, error}).', { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } }),
            ...AUTH_ERRORS,
            ...INPUT_ERRORS,
          },
        },
      },
      '/api/v1/relay-clients': {
        get: {
          summary: 'The SMTP relay clients, revoked ones included, with last use and messages sent/failed (scope admin).',
          security: admin,
          responses: { '200': json('The clients.', { type: 'object', properties: { items: { type: 'array', items: ref('RelayClient') } } }), ...AUTH_ERRORS },
        },
        post: {
          summary: 'Create a relay client (scope admin): the generated username and password are in the answer, once.',
          security: admin,
          requestBody: body(ref('RelayClientRequest')),
          responses: {
            '201': json('Created. password is shown only now (null for a noAuth client).', {
              type: 'object',
              required: ['name', 'username', 'password', 'allowFrom', 'allowIp'],
              properties: { name: { type: 'string' }, username: { type: 'string' }, password: { type: ['string', 'null'] }, allowFrom: { type: 'array', items: { type: 'string' } }, allowIp: { type: 'array', items: { type: 'string' } }, noAuth: { type: 'boolean' }, fromPolicy: { type: 'string', enum: ['reject', 'rewrite'] } },
            }),
            ...AUTH_ERRORS,
            ...INPUT_ERRORS,
            '409': problem('An active relay client has that name.'),
          },
        },
      },
      '/api/v1/relay-clients/{name}': {
        delete: {
          summary: 'Revoke the active relay client with this name (scope admin); the relay refuses it within two seconds, also on open connections.',
          security: admin,
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '204': { description: 'Revoked.' }, ...AUTH_ERRORS, '404': problem('No active relay client has that name.') },
        },
      },
      '/api/v1/senders': {
        get: {
          summary: 'The senders (issue 16): From address, signed-in mailbox (signInAs; another one means Send As), credential, transport, limits, source (settings: the default sender of the Email Settings; stored; file: MAILGATE_CONFIG, read-only), problems (scope admin).',
          security: admin,
          responses: { '200': json('The senders, the default first.', { type: 'object', properties: { items: { type: 'array', items: { type: 'object' } }, fromFile: { type: 'boolean' } } }), ...AUTH_ERRORS },
        },
        post: {
          summary: 'Create a sender (scope admin).',
          security: admin,
          requestBody: body(jsonSchema(senderSchema)),
          responses: { '201': json('Created.', { type: 'object' }), ...AUTH_ERRORS, ...INPUT_ERRORS, '409': problem('A sender with that address exists, it is the default sender, or the senders come from MAILGATE_CONFIG. Also settings-conflict when another writer changed the settings at the same moment and retries did not settle it (retryable).') },
        },
      },
      '/api/v1/senders/{address}': {
        get: { summary: 'One sender (scope admin).', security: admin, parameters: [{ name: 'address', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': json('The sender.', { type: 'object' }), ...AUTH_ERRORS, '404': problem('No such sender.') } },
        put: { summary: 'Replace a stored sender (scope admin); its address cannot change.', security: admin, parameters: [{ name: 'address', in: 'path', required: true, schema: { type: 'string' } }], requestBody: body(jsonSchema(senderSchema)), responses: { '200': json('Replaced.', { type: 'object' }), ...AUTH_ERRORS, ...INPUT_ERRORS, '404': problem('No stored sender with that address.'), '409': problem('The default sender or a MAILGATE_CONFIG sender. Also settings-conflict when another writer changed the settings at the same moment and retries did not settle it (retryable).') } },
        delete: { summary: 'Delete a stored sender (scope admin); refused while messages for it are queued, retrying or sending.', security: admin, parameters: [{ name: 'address', in: 'path', required: true, schema: { type: 'string' } }], responses: { '204': { description: 'Deleted.' }, ...AUTH_ERRORS, '404': problem('No stored sender with that address.'), '409': problem('Messages for it are still queued, or it is not stored here. Also settings-conflict when another writer changed the settings at the same moment and retries did not settle it (retryable).') } },
      },
      '/api/v1/credentials': {
        get: {
          summary: 'The credentials (app registrations; scope admin): never a secret, only clientSecretSet / clientCertificateSet, and the senders using each.',
          security: admin,
          responses: { '200': json('The credentials.', { type: 'object', properties: { items: { type: 'array', items: { type: 'object' } }, fromFile: { type: 'boolean' } } }), ...AUTH_ERRORS },
        },
        post: {
          summary: 'Create a credential (scope admin). The secret or certificate is the value itself, stored encrypted and never returned (references env:/file: are for MAILGATE_CONFIG only).',
          security: admin,
          requestBody: body(jsonSchema(credentialSchema('value'))),
          responses: { '201': json('Created.', { type: 'object' }), ...AUTH_ERRORS, ...INPUT_ERRORS, '409': problem('A credential with that name exists, or the credentials come from MAILGATE_CONFIG. Also settings-conflict when another writer changed the settings at the same moment and retries did not settle it (retryable).') },
        },
      },
      '/api/v1/credentials/{name}': {
        get: { summary: 'One credential (scope admin).', security: admin, parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': json('The credential.', { type: 'object' }), ...AUTH_ERRORS, '404': problem('No such credential.') } },
        put: { summary: 'Replace a credential (scope admin). A secret left out keeps the stored one, except when an endpoint (cloud, authorityHost, smtpHost, smtpPort, graphEndpoint) moves: then it must be entered again.', security: admin, parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], requestBody: body(jsonSchema(credentialSchema('value'))), responses: { '200': json('Replaced.', { type: 'object' }), ...AUTH_ERRORS, ...INPUT_ERRORS, '404': problem('No stored credential with that name.'), '409': problem('The Email Settings\' credential or a MAILGATE_CONFIG one. Also settings-conflict when another writer changed the settings at the same moment and retries did not settle it (retryable).') } },
        delete: { summary: 'Delete a credential no sender uses (scope admin).', security: admin, parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { '204': { description: 'Deleted.' }, ...AUTH_ERRORS, '404': problem('No stored credential with that name.'), '409': problem('Senders use it. Also settings-conflict when another writer changed the settings at the same moment and retries did not settle it (retryable).') } },
      },
      '/api/v1/credentials/{name}/rotation': {
        get: { summary: 'The credential\'s rotation view (scope admin, issue 17): primary and secondary slots (kind, expires, thumbprint, a 3-character hint of a secret at most, addedAt, lastTest), source, readOnly, active (secondary after a failover, until the credential changes) and the last failover {at, code}. GET /api/v1/credentials includes it as `rotation` on every credential.', security: admin, parameters: [nameParam], responses: { '200': json('The rotation view.', rotationView), ...AUTH_ERRORS, '404': problem('No such credential.') } },
      },
      '/api/v1/credentials/{name}/secondary': {
        post: { summary: 'Add the secondary credential (step 1 of a rotation; scope admin): a client secret (its value, stored encrypted, never returned) with its optional expiry date, or a certificate with its private key (PEM). Audited, never with the value.', security: admin, parameters: [nameParam], requestBody: body(jsonSchema(secondaryBodySchema)), responses: { '201': json('The rotation view.', rotationView), ...AUTH_ERRORS, ...INPUT_ERRORS, '404': problem('No such credential.'), '409': problem('rotation-step-invalid (a secondary exists already: remove it first) or credential-read-only (MAILGATE_CONFIG or environment variables: change it there). Also settings-conflict when another writer changed the settings at the same moment and retries did not settle it (retryable).') } },
        delete: { summary: 'Remove the secondary credential (the last step of a rotation, after promote; scope admin).', security: admin, parameters: [nameParam], responses: { '200': json('The rotation view.', rotationView), ...AUTH_ERRORS, '404': problem('No such credential.'), '409': problem('rotation-step-invalid (no secondary) or credential-read-only. Also settings-conflict when another writer changed the settings at the same moment and retries did not settle it (retryable).') } },
      },
      '/api/v1/credentials/{name}/test': {
        post: { summary: 'Test one slot (scope admin): a real, uncached token request with that credential alone; the result is recorded as the slot\'s lastTest (promote needs a passed test of the secondary). Without a slot: the secondary when there is one, else the primary.', security: admin, parameters: [nameParam], requestBody: body(jsonSchema(testBodySchema), false), responses: { '200': json('The result: ok, code (AADSTS… or an error code), summary, fixes, and the rotation view.', { type: 'object', properties: { slot: { type: 'string' }, ok: { type: 'boolean' }, code: { type: 'string' }, summary: { type: 'string' }, fixes: { type: 'array', items: { type: 'string' } }, credential: rotationView } }), ...AUTH_ERRORS, ...INPUT_ERRORS, '404': problem('No such credential.'), '409': problem('rotation-step-invalid (no such slot). Also settings-conflict when another writer changed the settings at the same moment and retries did not settle it (retryable).') } },
      },
      '/api/v1/credentials/{name}/promote': {
        post: { summary: 'Make the secondary primary (swap; scope admin). Needs a secondary whose last test passed, unless force is true. The old primary becomes the secondary until it is removed.', security: admin, parameters: [nameParam], requestBody: body(jsonSchema(promoteBodySchema), false), responses: { '200': json('The rotation view.', rotationView), ...AUTH_ERRORS, ...INPUT_ERRORS, '404': problem('No such credential.'), '409': problem('rotation-step-invalid (no secondary, or it was not tested or its test failed: the detail says what to do next) or credential-read-only. Also settings-conflict when another writer changed the settings at the same moment and retries did not settle it (retryable).') } },
      },
      '/api/v1/diagnostics': {
        post: {
          summary: 'Run the doctor on the settings in effect (scope admin). The body is optional.',
          security: admin,
          requestBody: body(jsonSchema(diagnosticsSchema), false),
          responses: { '200': json('The doctor report (as mailgate doctor --json).', { type: 'object' }), ...AUTH_ERRORS, ...INPUT_ERRORS, '501': problem('No doctor in this build.') },
        },
      },
    },
  };
}
