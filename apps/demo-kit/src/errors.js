/**
 * A problem a person can fix before the demo starts (a store that is not
 * running, a missing secret): printed as one line, without a stack trace.
 */
export class DemoSetupError extends Error {
  name = 'DemoSetupError';
}

/**
 * Prints a start-up failure as one clear line and exits with code 1.
 * Setup errors and sess errors (whose messages start with `[sess]` and name the
 * fix) are shown as they are; anything else keeps its stack, as it is a bug.
 * @param {unknown} err
 * @returns {never}
 */
export function exitWithError(err) {
  const message = err instanceof Error ? err.message : String(err);
  const known = err instanceof DemoSetupError || (err instanceof Error && message.startsWith('[sess]'));
  console.error(known ? `error: ${message}` : err);
  process.exit(1);
}
