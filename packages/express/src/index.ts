/**
 * Express glue over the Node binding of `@sess/core/http`: the lifecycle
 * (load, CSRF, commit, cookie, response hold, error bodies) lives in core;
 * this file says where the session lives and how errors travel (`next(err)`).
 */
import type { RequestHandler } from 'express';
import { CSRF_VARY, ConfigError, createCsrfCheck, managerOf, toManager } from '@sess/core';
import type { CsrfOptions, DefaultData, Session, SessionManager, SessionManagerOptions } from '@sess/core';
import { SessionLifecycle, beginNode, type LifecycleOptions } from '@sess/core/http';

export type { CsrfOptions, SessionManagerOptions } from '@sess/core';
export type { LifecycleOptions } from '@sess/core/http';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The request's session, set by `session()`. */
      session: Session;
    }
    interface Locals {
      /** The request's session, for views (`session.get('success')`). */
      session: Session;
      /** A fresh CSRF token for a form's `_token` field. */
      csrfToken: () => string;
    }
  }
}

/** `session()` options: the manager's, plus the lifecycle's `csrf` and `commitOnError`. */
export type SessionOptions = SessionManagerOptions & LifecycleOptions;

/** The middleware `session()` returns, with the manager it uses. */
export interface SessionMiddleware<Data extends object = DefaultData> extends RequestHandler {
  /** The manager that loads and commits: for `listSessions`, `destroySessions`, `close`. */
  readonly manager: SessionManager<Data>;
}

/**
 * Loads the session before the handlers and commits it before the response
 * headers go out, however the response ends (`send`, `redirect`, `render`,
 * `writeHead`, a piped stream, `sendFile`, an error middleware). Load errors
 * (a `StoreError`, 503; a `CsrfError`, 403) go to `next(err)`. A response with
 * status 500 or more commits nothing unless `commitOnError` is set.
 *
 * @example
 * app.use(session({ secret: process.env.SESSION_SECRET!, store: new FileStore({ dir: './sessions' }) }));
 * app.get('/', (req, res) => res.json({ visits: req.session.increment('visits') }));
 * @example
 * // CSRF in the same store write as the load: parse the body first.
 * app.use(express.urlencoded({ extended: false }), session({ secret, store, csrf: true }));
 */
export function session<Data extends object = DefaultData>(options: SessionOptions | SessionManager<Data>, lifecycleOptions: LifecycleOptions = options as LifecycleOptions): SessionMiddleware<Data> {
  const manager = toManager<Data>(options);
  const lifecycle = new SessionLifecycle<Data>(manager, lifecycleOptions);
  const middleware: RequestHandler = (req, res, next) => {
    if (req.session && managerOf(req.session) === manager) return next(); // mounted twice
    if (lifecycle.checksCsrf) res.vary(CSRF_VARY);
    beginNode(lifecycle, req, res, { body: req.body }).then((request) => {
      const current = request.session as unknown as Session;
      req.session = current;
      res.locals.session = current;
      res.locals.csrfToken = () => request.csrfToken();
      next();
    }, next);
  };
  return Object.assign(middleware, { manager });
}

/**
 * Refuses unsafe requests (POST, PUT, PATCH, DELETE) without a valid one-time
 * token in the `_token` form field or the `x-csrf-token` header, or sent
 * cross-site: `next(err)` with a `CsrfError` (403). Place it after `session()`
 * and the body parser. The token use is a store write of its own; with
 * `session({ csrf: true })` it shares the load's write instead.
 *
 * @example
 * app.use(session({ secret }), express.urlencoded({ extended: false }), csrf());
 */
export function csrf(options: CsrfOptions = {}): RequestHandler {
  const check = createCsrfCheck(options);
  return (req, res, next) => {
    const current = req.session as Session | undefined;
    const manager = current && managerOf(current);
    if (!current || !manager) return next(new ConfigError('[sess] csrf() found no session: add app.use(session({ secret, store })) before app.use(csrf()).'));
    res.vary(CSRF_VARY);
    res.locals.csrfToken = () => current.generateToken();
    const header = (name: string) => [req.headers[name]].flat()[0];
    check(manager, current, { method: req.method, header, body: req.body }).then(() => next(), next);
  };
}
