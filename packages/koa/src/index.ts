import { debuglog } from 'node:util';
import type { Middleware } from 'koa';
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

export type { CsrfOptions, SessionManagerOptions } from '@sess/core';

const debug = debuglog('sess:koa');

declare module 'koa' {
  interface DefaultContext {
    /** The request's session, set by `session()`. */
    session: Session;
  }
  interface DefaultState {
    /** The request's session, for views (`state.session.get('success')`). */
    session: Session;
    /** A fresh CSRF token for a form's `_token` field, set by `csrf()`. */
    csrfToken: () => string;
  }
}

/** The middleware `session()` returns, with the manager it uses. */
export interface SessionMiddleware<Data extends object = DefaultData> extends Middleware {
  /** The manager that loads and commits: for `listSessions`, `destroySessions`, `close`. */
  readonly manager: SessionManager<Data>;
}

/**
 * Loads the session, runs the rest of the app, and commits before Koa writes
 * the response. A store failure throws the `StoreError` (status 503). When the
 * rest of the app throws, the session's changes are dropped, not committed: a
 * failed request changes nothing (error middleware placed after `session()`
 * that handles the error and answers can still flash a message).
 *
 * @example
 * app.use(session({ secret: process.env.SESSION_SECRET!, store: new FileStore({ dir: './sessions' }) }));
 * app.use((ctx) => { ctx.body = { visits: ctx.session.increment('visits') }; });
 */
export function session<Data extends object = DefaultData>(options: SessionManagerOptions | SessionManager<Data>): SessionMiddleware<Data> {
  const manager = toManager<Data>(options);
  const middleware: Middleware = async (ctx, next) => {
    if (ctx.session && managerOf(ctx.session) === manager) return next(); // mounted twice
    const loaded = await manager.load(ctx.get('cookie'));
    const current = loaded as unknown as Session;
    ctx.session = current;
    ctx.state.session = current;
    await next(); // a throw skips the commit on purpose (see above)
    let cookie: string | undefined;
    try {
      cookie = await manager.commit(loaded);
    } catch (err) {
      debug('commit failed, answering %s instead of the response: %s', (err as { status?: number }).status ?? 500, (err as Error).message);
      throw err; // Koa's error path drops the handler's headers and body
    }
    if (cookie === undefined) return;
    // With ctx.respond = false the app wrote the response itself: too late for a cookie.
    if (ctx.headerSent) debug('headers already sent (ctx.respond = false?): Set-Cookie dropped');
    else ctx.append('Set-Cookie', cookie);
  };
  return Object.assign(middleware, { manager });
}

/**
 * Refuses unsafe requests (POST, PUT, PATCH, DELETE) without a valid one-time
 * token in the `_token` body field or the `x-csrf-token` header, or sent
 * cross-site: throws a `CsrfError` (status 403) and the rest of the app does
 * not run. Place it after `session()` and after the body parser. Sets
 * `ctx.state.csrfToken()`.
 *
 * @example
 * app.use(session({ secret })).use(bodyParser()).use(csrf());
 */
export function csrf(options: CsrfOptions = {}): Middleware {
  const check = createCsrfCheck(options);
  return async (ctx, next) => {
    const current = ctx.session as Session | undefined;
    const manager = current && managerOf(current);
    if (!current || !manager) throw new ConfigError('[sess] csrf() found no session: add app.use(session({ secret, store })) before app.use(csrf()).');
    ctx.vary(CSRF_VARY);
    ctx.state.csrfToken = () => current.generateToken();
    const header = (name: string) => ctx.get(name) || undefined;
    await check(manager, current, { method: ctx.method, header, body: (ctx.request as { body?: unknown }).body });
    await next();
  };
}

