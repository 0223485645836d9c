/**
 * The one request lifecycle every adapter uses: begin (verify the cookie, load,
 * check CSRF), hand out the session, finish (commit or roll back, then the
 * cookie). Framework-free: a request is seen through the small `Exchange`
 * interface, and the cookie comes back as a structured value and as header
 * text. The Node and Fetch bindings (./node.ts, ./fetch.ts) sit on it.
 */
import { createCsrfCheck, type CsrfOptions } from '../csrf.js';
import type { SessionCookie } from '../cookie.js';
import { type SessionManager, type SessionManagerOptions, toManager } from '../manager.js';
import { STATE, type Session } from '../session.js';
import type { DefaultData } from '../types.js';
import { diagnostics } from '../diagnostics.js';

const NOTHING: Promise<undefined> = Promise.resolve(undefined);

/** What the lifecycle needs to know of a request, whatever the framework. */
export interface Exchange {
  /** The request method, any case. */
  readonly method: string;
  /** A request header by lower-case name, or undefined. */
  header(name: string): string | undefined;
  /**
   * The parsed body when the framework parsed one (the CSRF token's form field
   * is read from it), or a function that reads it (called only when the token
   * is needed and not in a header).
   */
  body?: unknown | (() => Promise<unknown>);
}

export interface LifecycleOptions {
  /**
   * Check CSRF in `begin` for unsafe methods (POST, PUT, PATCH, DELETE):
   * Fetch Metadata / Origin first, then a one-time token (form field `_token`
   * or header `x-csrf-token`) consumed in the same store write that takes the
   * pending flash values. A refused request throws a `CsrfError` (403) before
   * the handler runs.
   * @default false
   */
  csrf?: boolean | CsrfOptions;
  /**
   * Whether a request that failed (the handler threw, or the response status is
   * 500 or more) still writes its session changes. By default a failed request
   * changes nothing, like a rolled-back transaction; what was written at load
   * (flash values shown, a CSRF token used) stays written.
   * @default false
   */
  commitOnError?: boolean;
}

/** How a request ended, for the commit-on-error policy. */
export interface Outcome {
  /** The error that ended the request, if one did. */
  error?: unknown;
  /** The response status, when known. */
  status?: number;
}

/**
 * Sessions over HTTP for one app: `begin` a request, use `session`, `finish`.
 *
 * @example
 * const lifecycle = new SessionLifecycle({ secret, store }, { csrf: true });
 * const request = await lifecycle.begin({ method: 'POST', header: (n) => headers[n], body });
 * request.session.increment('visits');
 * const cookie = await request.finish({ status: 200 }); // cookie?.header is the Set-Cookie text
 */
export class SessionLifecycle<Data extends object = DefaultData> {
  readonly manager: SessionManager<Data>;
  readonly commitOnError: boolean;
  readonly #csrf: ReturnType<typeof createCsrfCheck> | undefined;

  constructor(manager: SessionManager<Data> | SessionManagerOptions, options: LifecycleOptions = {}) {
    this.manager = toManager<Data>(manager);
    this.commitOnError = options.commitOnError ?? false;
    this.#csrf = options.csrf ? createCsrfCheck(options.csrf === true ? {} : options.csrf) : undefined;
  }

  /** Whether `begin` checks CSRF. */
  get checksCsrf(): boolean {
    return this.#csrf !== undefined;
  }

  /**
   * Loads the request's session (one store read, and for a session with
   * pending flash values or an unsafe request under `csrf`, one atomic write)
   * and checks CSRF. Throws `CsrfError` (403) or `StoreError` (503).
   */
  async begin(exchange: Exchange): Promise<SessionRequest<Data>> {
    const cookie = exchange.header('cookie');
    const csrf = this.#csrf;
    if (csrf === undefined || csrf.isSafe(exchange.method)) return new SessionRequest(this, await this.manager.load(cookie));
    csrf.checkSource(exchange);
    const token = await csrf.tokenOf(exchange);
    const session = await this.manager.load(cookie, { token });
    if (!session[STATE].tokenUsed) {
      // A session made in this request has no stored ring: nothing can be valid.
      csrf.refuse(token, exchange.method);
    }
    return new SessionRequest(this, session);
  }
}

/** One request's session between `begin` and `finish`. */
export class SessionRequest<Data extends object = DefaultData> {
  readonly session: Session<Data>;
  readonly lifecycle: SessionLifecycle<Data>;
  #finished: Promise<SessionCookie | undefined> | undefined;

  constructor(lifecycle: SessionLifecycle<Data>, session: Session<Data>) {
    this.lifecycle = lifecycle;
    this.session = session;
  }

  get manager(): SessionManager<Data> {
    return this.lifecycle.manager;
  }

  /** A new CSRF token for a form's `_token` field (kept in the session's ring of 20). */
  csrfToken(): string {
    return this.session.generateToken();
  }

  /** Whether `finish` has anything to do (synchronous: a read-only response can go out at once). */
  needsCommit(): boolean {
    return this.#finished !== undefined || this.manager.needsCommit(this.session);
  }

  /** Whether `finish` would roll back for this outcome (the commit-on-error policy). */
  failed(outcome: Outcome = {}): boolean {
    return outcome.error !== undefined || (outcome.status !== undefined && outcome.status >= 500);
  }

  /**
   * Commits the session's changes (or rolls them back when the request failed
   * and `commitOnError` is off) and returns the cookie to send, or undefined.
   * Throws `StoreError`, `ValueError` (a record over maxSize) or
   * `SessionGoneError` (409). Calling it again returns the same result.
   */
  finish(outcome: Outcome = {}): Promise<SessionCookie | undefined> {
    // An untouched session (most reads): nothing to write, delete or send, and nobody
    // listening for the commit's event, so no async commit runs.
    if (this.#finished === undefined && !diagnostics.commit.hasSubscribers && !this.manager.needsCommit(this.session)) return NOTHING;
    this.#finished ??= this.failed(outcome) && !this.lifecycle.commitOnError ? this.manager.rollback(this.session) : this.manager.commitCookie(this.session);
    return this.#finished;
  }
}

