/**
 * The service's public surface, for the composition roots (src/app/) and the CLI, and for what
 * is built on top of the service (the admin page mounts its Hono app under /admin through
 * `createApp(deps, { admin })` and receives the same `AppDeps`). `startService` and `startDev`
 * live in src/app/ (src/app/index.ts).
 */
export { createApp, type AppDeps, type AppOptions, type SendTestResult, type RunDiagnostics } from './intake/http/app.js';
export type { AppEnv } from './intake/http/auth.js';
export { problemResponse, validationProblem, PROBLEM_CONTENT_TYPE } from './intake/http/problem.js';
export { messageView, messageDetailView, attemptView } from './intake/http/views.js';
export { SettingsService, type SettingsView, type SettingSource, type UpdateResult } from './settings/settings-store.js';
export { createApiKey, revokeApiKey, authenticateApiKey, API_KEY_SCOPES } from './access/api-keys.js';
export { setAdminPassword, resolveAdminPassword, verifyPassword, type AdminPassword } from './access/admin-password.js';
export { parseMessageRequest, type ParsedMessageRequest } from './intake/message-request.js';
export { parseServiceConfig, SERVICE_VARS, type ServiceConfig } from './config.js';
export { openSqliteStore, type SqliteStore } from './outbox/sqlite/sqlite-store.js';
export { DataDirError } from './outbox/sqlite/open.js';
export * from './outbox/store.js';
