import { isAbsolute, resolve } from 'node:path';
import { DemoSetupError } from './errors.js';
import { loadSecret } from './secret.js';
import { openStore } from './stores.js';

/**
 * @typedef {object} DemoSetup
 * @property {string} host  always 127.0.0.1: the demo serves loopback only
 * @property {number} port
 * @property {string} url   the address to print and open
 * @property {string} dataDir
 * @property {boolean} production  cookies are Secure and a SESSION_SECRET is required
 * @property {import('./stores.js').OpenedStore} store
 * @property {import('@sess/core').SessionManagerOptions} sessionOptions  for session() / createNextSessions()
 */

/**
 * Everything a demo reads from its environment: PORT, SESS_STORE (and
 * DATABASE_URL / REDIS_URL), SESS_DATA_DIR, SESSION_SECRET, NODE_ENV.
 * @param {{ appDir: string, defaultPort: number, cookieName: string, env?: NodeJS.ProcessEnv, log?: (line: string) => void }} options
 * @returns {Promise<DemoSetup>}
 */
export async function setupDemo({ appDir, defaultPort, cookieName, env = process.env, log = console.log }) {
  const port = env.PORT === undefined || env.PORT === '' ? defaultPort : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new DemoSetupError(`PORT=${env.PORT} is not a port number.`);
  const dataDir = env.SESS_DATA_DIR ? (isAbsolute(env.SESS_DATA_DIR) ? env.SESS_DATA_DIR : resolve(env.SESS_DATA_DIR)) : resolve(appDir, '.sess-data');
  // SESS_DEMO_PRODUCTION: set by the Next.js demo's start script, because
  // `next start` runs the app with NODE_ENV=production whatever the person set.
  const production = env.SESS_DEMO_PRODUCTION ? env.SESS_DEMO_PRODUCTION === '1' : env.NODE_ENV === 'production';
  const secret = loadSecret({ dataDir, env, production, log });
  const store = await openStore({ dataDir, env });
  return {
    host: '127.0.0.1',
    port,
    url: `http://127.0.0.1:${port}`,
    dataDir,
    production,
    store,
    sessionOptions: {
      secret,
      store: store.store,
      // Why a name per demo: cookies ignore the port, so demos on one host would
      // overwrite each other's cookie. Why not Secure outside production: the
      // demo is served over plain http://127.0.0.1.
      cookie: { name: cookieName, secure: production, sameSite: 'lax' },
    },
  };
}
