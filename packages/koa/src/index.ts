/**
 * Koa glue over `@sess/core/http`: the lifecycle (load, CSRF, commit, cookie,
 * error bodies) lives in core; this file says where the session lives
 * (`ctx.session`, `ctx.state.session`) and how errors travel (thrown, with
 * `status` and `expose`, to Koa's error handling).
 */
import type { Context, Middleware } from 'koa';
import { CSRF_VARY, ConfigError, createCsrfCheck, managerOf, toManager } from '@sess/core';
import type { CsrfOptions, DefaultData, Session, SessionManager, SessionManagerOptions } from '@sess/core';
import { SessionLifecycle, type Exchange, type LifecycleOptions } from '@sess/core/http';

export type { CsrfOptions, SessionManagerOptions } from '@sess/core';
export type { LifecycleOptions } from '@sess/core/http';

declare module 'koa' {
  interface DefaultContext {
    /** The request's session, set by `session()`. */
    session: Session;
  }
  interface DefaultState {
    /** The request's session, for views (`state.session.get('success')`). */
    session: Session;
    /** A fresh CSRF token for a form's `_token` field. */
    csrfToken: () => string;
  }
}

/** `session()` options: the manager's, plus the lifecycle's `csrf` and `commitOnError`. */
export type SessionOptions = SessionManagerOptions & LifecycleOptions;

/** The middleware `session()` returns, with the manager it uses. */
export interface SessionMiddleware<Data extends object = DefaultData> extends Middleware {
  /** The manager that loads and commits: for `listSessions`, `destroySessions`, `close`. */
  readonly manager: SessionManager<Data>;
}

const exchangeOf = (ctx: Context): Exchange => ({
  method: ctx.method,
  header: (name) => ctx.get(name) || undefined,
  body: () => Promise.resolve((ctx.request as { body?: unknown }).body),
});

/**
 * Loads the session, runs the rest of the app, and commits before Koa writes
 * the response. A store failure throws the `StoreError` (503). When the rest
 * of the app throws (or sets a 5xx status), nothing is committed unless
 * `commitOnError` is set: a failed request changes nothing.
 *
 * @example
 * app.use(session({ secret: process.env.SESSION_SECRET!, store: new FileStore({ dir: './sessions' }) }));
 * app.use((ctx) => { ctx.body = { visits: ctx.session.increment('visits') }; });
 */
export function session<Data extends object = DefaultData>(options: SessionOptions | SessionManager<Data>, lifecycleOptions: LifecycleOptions = options as LifecycleOptions): SessionMiddleware<Data> {
  const manager = toManager<Data>(options);
  const lifecycle = new SessionLifecycle<Data>(manager, lifecycleOptions);
  const middleware: Middleware = async (ctx, next) => {
    if (ctx.session && managerOf(ctx.session) === manager) return next(); // mounted twice
    if (lifecycle.checksCsrf) ctx.vary(CSRF_VARY);
    const request = await lifecycle.begin(exchangeOf(ctx));
    const current = request.session as unknown as Session;
    ctx.session = current;
    ctx.state.session = current;
    ctx.state.csrfToken = () => request.csrfToken();
    try {
      await next();
    } catch (err) {
      // Koa's error handling answers; the cookie of a committed change rides on the error's headers.
      const cookie = await request.finish({ error: err });
      if (cookie && err !== null && typeof err === 'object') {
        const headers = ((err as { headers?: Record<string, unknown> }).headers ??= {});
        headers['Set-Cookie'] = [headers['Set-Cookie'] ?? []].flat().concat(cookie.header);
      }
      throw err;
    }
    const cookie = await request.finish({ status: ctx.status });
    if (cookie === undefined) return;
    // With ctx.respond = false the app wrote the response itself: too late for a cookie.
    if (!ctx.headerSent) ctx.append('Set-Cookie', cookie.header);
  };
  return Object.assign(middleware, { manager });
}

/**
 * Refuses unsafe requests (POST, PUT, PATCH, DELETE) without a valid one-time
 * token in the `_token` body field or the `x-csrf-token` header, or sent
 * cross-site: throws a `CsrfError` (403). Place it after `session()` and the
 * body parser. The token use is a store write of its own; with
 * `session({ csrf: true })` (body parsed before it) it shares the load's write.
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
    await check(manager, current, exchangeOf(ctx));
    await next();
  };
}
