/**
 * Every error sess throws is a `SessionError`: test `err instanceof SessionError`
 * and branch on the stable `code`; the message starts with `[sess]` and names the fix.
 */
export type SessionErrorCode =
  | 'E_CONFIG'
  | 'E_STORE'
  | 'E_STORE_TIMEOUT'
  | 'E_CSRF'
  | 'E_VALUE'
  | 'E_RECORD_TOO_LARGE'
  | 'E_COOKIE_NOT_WRITABLE'
  | 'E_UNSUPPORTED';

export class SessionError extends Error {
  readonly code: SessionErrorCode;
  /** HTTP status an adapter answers with when this error ends a request. */
  readonly status: number;

  constructor(message: string, options: { code: SessionErrorCode; status?: number; cause?: unknown }) {
    super(message.startsWith('[sess]') ? message : `[sess] ${message}`, { cause: options.cause });
    // Names are spelled out, not new.target.name: minifiers (Next in production) rename classes.
    this.name = 'SessionError';
    this.code = options.code;
    this.status = options.status ?? 500;
  }
}

/** Bad options, thrown by constructors so a misconfigured app fails at start-up. */
export class ConfigError extends SessionError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'E_CONFIG', status: 500, ...options });
    this.name = 'ConfigError';
  }
}

/** A store failed or did not answer in time; adapters answer 503. */
export class StoreError extends SessionError {
  constructor(message: string, options: { cause?: unknown; code?: 'E_STORE' | 'E_STORE_TIMEOUT' } = {}) {
    super(message, { code: options.code ?? 'E_STORE', status: 503, cause: options.cause });
    this.name = 'StoreError';
  }
}

/** A CSRF check refused the request; adapters answer 403. */
export class CsrfError extends SessionError {
  /** Why the request was refused, for logs: never shown to the client as-is. */
  readonly reason: 'missing-token' | 'invalid-token' | 'cross-site' | 'origin-mismatch';

  constructor(message: string, reason: CsrfError['reason']) {
    super(message, { code: 'E_CSRF', status: 403 });
    this.name = 'CsrfError';
    this.reason = reason;
  }
}

/** A value that cannot be stored (not JSON), or a record over the size limit. */
export class ValueError extends SessionError {
  constructor(message: string, options: { code?: 'E_VALUE' | 'E_RECORD_TOO_LARGE'; cause?: unknown } = {}) {
    super(message, { code: options.code ?? 'E_VALUE', status: 500, cause: options.cause });
    this.name = 'ValueError';
  }
}

/** Wraps anything a store threw in a StoreError, keeping the original as `cause`. */
export function toStoreError(err: unknown, action: string): StoreError {
  if (err instanceof StoreError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new StoreError(`[sess] the session store failed to ${action}: ${detail}. Check that the store's backend is reachable.`, {
    cause: err,
  });
}
