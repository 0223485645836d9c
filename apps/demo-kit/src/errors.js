/**
 * A problem a person can fix before the demo starts (a store that is not
 * running, a missing secret): printed as one line, without a stack trace.
 */
export class DemoSetupError extends Error {
  name = 'DemoSetupError';
}

/** The package scripts that start a demo (`start`, `dev`); `pnpm test` is not one. */
const DEMO_SCRIPTS = new Set(['start', 'dev']);

/**
 * Prints a start-up failure as one clear line and exits.
 * Setup errors and sess errors (whose messages start with `[sess]` and name the
 * fix) are shown as they are; anything else keeps its stack, as it is a bug.
 *
 * The exit code is 1, except for a known problem in a demo started by a
 * demo's own package script (`pnpm demo` runs `pnpm --filter express-demo start`): pnpm
 * follows a failed script with lines of its own ("ELIFECYCLE Command failed
 * with exit code 1."), which bury the one line that says what to do. There
 * the demo exits with 0 after printing it; run `node src/server.js` for the
 * exit code.
 * @param {unknown} err
 * @returns {never}
 */
export function exitWithError(err) {
  const message = err instanceof Error ? err.message : String(err);
  const known = err instanceof DemoSetupError || (err instanceof Error && message.startsWith('[sess]'));
  console.error(known ? `error: ${message}` : err);
  process.exit(known && DEMO_SCRIPTS.has(process.env.npm_lifecycle_event ?? '') ? 0 : 1);
}
