/**
 * The composition roots: what wires the parts together. `startService` builds `mailgate serve`
 * (store, settings, worker, delivery thread, HTTP API, doctor, and the admin page mounted under
 * /admin); `startDev` adds the emulator's demo tenant for `mailgate dev`.
 *
 * Why a room of its own: the service's parts (service/), the admin page (admin/) and the
 * emulator sit below it; app/ is the one place that imports all of them, so service/ never
 * reaches up to the page or to the emulator (scripts/import-rules.mjs enforces it).
 */
export { startService, ServiceStartError, type StartServiceOptions, type RunningService, type ServiceMailerFactory } from './service.js';
export { startDev, devBanner, type DevOptions, type RunningDev } from './dev.js';
