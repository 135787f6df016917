/**
 * The service's public surface, for the CLI and for what is built on top of the service (the
 * admin page mounts its Hono app under /admin through `createApp(deps, { admin })` or
 * `startService({ admin })` and receives the same `AppDeps`).
 */
export { startService, ServiceStartError, type StartServiceOptions, type RunningService, type ServiceMailerFactory } from './service.js';
export { startDev, devBanner, type DevOptions, type RunningDev } from './dev.js';
export { createApp, type AppDeps, type AppOptions, type SendTestResult, type RunDiagnostics } from './http/app.js';
export type { AppEnv } from './http/auth.js';
export { problemResponse, validationProblem, PROBLEM_CONTENT_TYPE } from './http/problem.js';
export { messageView, messageDetailView, attemptView } from './http/views.js';
export { SettingsService, type SettingsView, type SettingSource, type UpdateResult } from './settings-store.js';
export { createApiKey, revokeApiKey, authenticateApiKey, API_KEY_SCOPES } from './api-keys.js';
export { setAdminPassword, resolveAdminPassword, verifyPassword, type AdminPassword } from './admin-password.js';
export { parseMessageRequest, type ParsedMessageRequest } from './message-request.js';
export { parseServiceConfig, SERVICE_VARS, type ServiceConfig } from './config.js';
export { openSqliteStore, type SqliteStore } from './sqlite/sqlite-store.js';
export { DataDirError } from './sqlite/open.js';
export * from './store/store.js';
