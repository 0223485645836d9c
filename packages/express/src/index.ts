import { debuglog } from 'node:util';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  CSRF_VARY,
  ConfigError,
  createCsrfCheck,
  managerOf,
  toManager,
  type SessionManager,
  type CsrfOptions,
  type DefaultData,
  type Session,
  type SessionManagerOptions,
} from '@sess/core';
import { holdUntilCommitted } from './hold-response.js';

export type { CsrfOptions, SessionManagerOptions } from '@sess/core';

const debug = debuglog('sess:express');

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
      /** A fresh CSRF token for a form's `_token` field, set by `csrf()`. */
      csrfToken: () => string;
    }
  }
}

/** The middleware `session()` returns, with the manager it uses. */
export interface SessionMiddleware<Data extends object = DefaultData> extends RequestHandler {
  /** The manager that loads and commits: for `listSessions`, `destroySessions`, `close`. */
  readonly manager: SessionManager<Data>;
}

/**
 * Loads the session before the handlers and commits it before the response
 * headers go out, however the response ends (`send`, `redirect`, `render`, a
 * piped stream, `sendFile`, an error middleware).
 *
 * @example
 * app.use(session({ secret: process.env.SESSION_SECRET!, store: new FileStore({ dir: './sessions' }) }));
 * app.get('/', (req, res) => res.json({ visits: req.session.increment('visits') }));
 */
export function session<Data extends object = DefaultData>(options: SessionManagerOptions | SessionManager<Data>): SessionMiddleware<Data> {
  const manager = toManager<Data>(options);
  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    if (req.session && managerOf(req.session) === manager) return next(); // mounted twice
    manager.load(req.headers.cookie).then((loaded) => {
      const current = loaded as unknown as Session;
      req.session = current;
      res.locals.session = current;
      holdUntilCommitted(res, manager, loaded);
      next();
    }, (err: unknown) => {
      debug('load failed, passing the error on: %s', err instanceof Error ? err.message : String(err));
      next(err);
    });
  };
  return Object.assign(middleware, { manager });
}

/**
 * Refuses unsafe requests (POST, PUT, PATCH, DELETE) without a valid one-time
 * token in the `_token` form field or the `x-csrf-token` header, or sent
 * cross-site: `next(err)` with a `CsrfError` (status 403). Place it after
 * `session()` and after the body parser. Sets `res.locals.csrfToken()`.
 *
 * @example
 * app.use(express.urlencoded({ extended: false }), session({ secret }), csrf());
 */
export function csrf(options: CsrfOptions = {}): RequestHandler {
  const check = createCsrfCheck(options);
  return (req, res, next) => {
    const current = req.session as Session | undefined;
    const manager = current && managerOf(current);
    if (!current || !manager) {
      return next(new ConfigError('[sess] csrf() found no session: add app.use(session({ secret, store })) before app.use(csrf()).'));
    }
    res.vary(CSRF_VARY);
    res.locals.csrfToken = () => current.generateToken();
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    check(manager, current, { method: req.method, header, body: req.body }).then(() => next(), next);
  };
}

