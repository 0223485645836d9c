import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DemoSetupError } from './errors.js';

/** What @sess/core requires of every secret. */
const MIN_SECRET_BYTES = 32;
/** A command that prints a good secret, for the error messages. */
const GENERATE = '`SESSION_SECRET=$(node -e "console.log(require(\'crypto\').randomBytes(32).toString(\'base64url\'))")`';

/**
 * The cookie-signing secret: `SESSION_SECRET` when set; otherwise, outside
 * production, a random secret generated on first start and kept in the data
 * folder, so sessions survive restarts without a secret in the source.
 * @param {{ dataDir: string, env?: NodeJS.ProcessEnv, production?: boolean, log?: (line: string) => void }} options
 * @returns {string}
 */
export function loadSecret({ dataDir, env = process.env, production = env.NODE_ENV === 'production', log = console.log }) {
  if (env.SESSION_SECRET) {
    // Checked here, not left to SessionManager: its ConfigError would surface
    // as a stack trace from inside the app instead of one line at start-up.
    const bytes = Buffer.byteLength(env.SESSION_SECRET);
    if (bytes < MIN_SECRET_BYTES) {
      throw new DemoSetupError(`SESSION_SECRET is too short (${bytes} bytes; it needs ${MIN_SECRET_BYTES} or more): generate one with ${GENERATE}${production ? '' : ', or unset it for a development secret'}.`);
    }
    return env.SESSION_SECRET;
  }
  if (production) {
    throw new DemoSetupError(`SESSION_SECRET is not set: in production set it to a random string of ${MIN_SECRET_BYTES}+ bytes, e.g. ${GENERATE}.`);
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
