import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DemoSetupError } from './errors.js';

/**
 * The cookie-signing secret: `SESSION_SECRET` when set; otherwise, outside
 * production, a random secret generated on first start and kept in the data
 * folder, so sessions survive restarts without a secret in the source.
 * @param {{ dataDir: string, env?: NodeJS.ProcessEnv, production?: boolean, log?: (line: string) => void }} options
 * @returns {string}
 */
export function loadSecret({ dataDir, env = process.env, production = env.NODE_ENV === 'production', log = console.log }) {
  if (env.SESSION_SECRET) return env.SESSION_SECRET;
  if (production) {
    throw new DemoSetupError(
      'SESSION_SECRET is not set: in production set it to a random string of 32+ bytes, e.g. `node -e "console.log(require(\'crypto\').randomBytes(32).toString(\'base64url\'))"`.',
    );
  }
  const file = join(dataDir, 'dev-secret');
  try {
    const kept = readFileSync(file, 'utf8').trim();
    if (kept.length >= 32) return kept;
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'ENOENT') throw err;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  // Why 0600: whoever reads the secret can forge session cookies.
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  log(`note: SESSION_SECRET is not set; generated a development secret in ${file}`);
  return secret;
}
