import { createCsrfCheck } from '@sess/core';
import { createNextSessions } from '@sess/next';
import { setupDemo } from 'demo-kit';

/**
 * The demo's sessions, set up once per process from the same environment as
 * the other demos (SESS_STORE, SESS_DATA_DIR, SESSION_SECRET). Kept on
 * globalThis because Next bundles server code once per layer (server
 * components, route handlers), and all layers must share one store.
 * scripts/start.mjs has already checked the store and made the secret.
 */
export function demo() {
  const g = /** @type {{ __sessNextDemo?: Promise<ReturnType<typeof create>> }} */ (globalThis);
  g.__sessNextDemo ??= setupDemo({ appDir: process.cwd(), defaultPort: 3002, cookieName: 'sess-next', log: () => {} }).then(create, (err) => {
    g.__sessNextDemo = undefined; // try again on the next request
    throw err;
  });
  return g.__sessNextDemo;
}

/** @param {Awaited<ReturnType<typeof setupDemo>>} setup */
function create(setup) {
  const sessions = createNextSessions(setup.sessionOptions);
  return {
    ...sessions,
    store: { name: setup.store.name, description: setup.store.description },
    csrfCheck: createCsrfCheck(),
  };
}
