import type { ServerResponse } from 'node:http';
import { debuglog } from 'node:util';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  CSRF_VARY,
  ConfigError,
  SessionManager,
  createCsrfCheck,
  type CsrfOptions,
  type DefaultData,
  type Session,
  type SessionManagerOptions,
} from '@sess/core';

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

// Which manager loaded a session, so csrf() needs no options of its own.
const managers = new WeakMap<Session<any>, SessionManager<any>>();

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
  // Duck-typed rather than instanceof: an ESM and a CJS copy of core are two classes.
  const manager = isManager<Data>(options) ? options : new SessionManager<Data>(options);
  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    if (req.session && managers.get(req.session) === manager) return next(); // mounted twice
    manager.load(req.headers.cookie).then((loaded) => {
      const current = loaded as unknown as Session;
      managers.set(current, manager);
      req.session = current;
      res.locals.session = current;
      holdUntilCommitted(res, () => manager.commit(loaded));
      next();
    }, next);
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
    const manager = current && managers.get(current);
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

type Held = { name: 'writeHead' | 'write' | 'end'; args: unknown[] };

/**
 * Why not just wrap writeHead: commit is async, and Node writes the headers
 * synchronously. So the first writeHead/write/end is held, the commit runs,
 * the Set-Cookie header is added, and the held calls are replayed in order.
 * Later calls pass straight through (the wrappers stay, so middleware that
 * wrapped res after us keeps working).
 */
function holdUntilCommitted(res: ServerResponse, commit: () => Promise<string | undefined>): void {
  const original = { writeHead: res.writeHead, write: res.write, end: res.end } as Record<Held['name'], (...args: unknown[]) => unknown>;
  const held: Held[] = [];
  let state: 'open' | 'committing' | 'done' | 'failed' = 'open';

  const replay = () => {
    state = 'done';
    let needsDrain = false;
    for (const { name, args } of held.splice(0)) {
      const result = original[name]!.apply(res, args);
      if (name === 'write') needsDrain = result !== false;
      if (name === 'end') needsDrain = false;
    }
    // We answered false to the held writes: a piped stream waits for this.
    if (needsDrain) res.emit('drain');
  };

  const fail = (err: unknown) => {
    state = 'failed';
    held.length = 0;
    debug('commit failed, answering 503: %s', err instanceof Error ? err.message : String(err));
    if (res.headersSent) return void original.end!.call(res);
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.statusCode = 503;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    // The originals directly: our wrappers swallow everything once failed.
    original.writeHead!.call(res, 503);
    original.end!.call(res, 'Service Unavailable');
  };

  const hold = (name: Held['name'], args: unknown[]) => {
    held.push({ name, args });
    if (state !== 'open') return;
    state = 'committing';
    commit().then((cookie) => {
      if (cookie !== undefined && !res.headersSent) appendSetCookie(res, cookie);
      replay();
    }, fail);
  };

  const wrap = (name: Held['name']) =>
    function (this: ServerResponse, ...args: unknown[]) {
      if (state === 'done') return original[name]!.apply(this, args);
      if (state !== 'failed') hold(name, args);
      // A held write answers false (wait for 'drain'); writeHead and end answer res.
      return name === 'write' ? false : this;
    };
  res.writeHead = wrap('writeHead') as ServerResponse['writeHead'];
  res.write = wrap('write') as ServerResponse['write'];
  res.end = wrap('end') as ServerResponse['end'];
}

function appendSetCookie(res: ServerResponse, cookie: string): void {
  const existing = res.getHeader('Set-Cookie');
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  res.setHeader('Set-Cookie', [...list, cookie]);
}

function isManager<Data extends object>(value: unknown): value is SessionManager<Data> {
  const candidate = value as Partial<SessionManager<Data>> | null;
  return typeof candidate?.load === 'function' && typeof candidate.commit === 'function';
}
