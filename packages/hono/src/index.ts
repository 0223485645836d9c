/**
 * Hono glue over the Fetch binding of `@sess/core/http` (`c.req.raw` in,
 * `c.res` out): the lifecycle (load, CSRF, commit or roll back, cookie, error
 * bodies) lives in core; this file says where the session lives
 * (`c.var.session`) and how errors travel (an `HTTPException` carrying the
 * sess error as `cause`, to `app.onError`).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { CSRF_VARY, ConfigError, createCsrfCheck, managerOf, toManager } from '@sess/core';
import type { CsrfOptions, DefaultData, Session, SessionManager, SessionManagerOptions } from '@sess/core';
import { SessionLifecycle, errorResponse, fetchExchange, isSessionError, withHeader, type Exchange, type LifecycleOptions } from '@sess/core/http';

export type { CsrfOptions, DefaultData, Session, SessionData, SessionManagerOptions } from '@sess/core';
export type { LifecycleOptions } from '@sess/core/http';

/** The variables `session()` sets: `new Hono<SessionEnv>()`, or `SessionEnv<MyData>` for typed data. */
export type SessionEnv<Data extends object = DefaultData> = {
  Variables: {
    /** The request's session. */
    session: Session<Data>;
    /** A new one-time CSRF token for a form's `_token` field (or the `x-csrf-token` header). */
    csrfToken: () => string;
  };
};

/** `session()` options: the manager's, plus the lifecycle's `csrf` and `commitOnError`. */
export type SessionOptions = SessionManagerOptions & LifecycleOptions;

/** The middleware `session()` returns, with the manager it uses. */
export type SessionMiddleware<Data extends object = DefaultData> = MiddlewareHandler<SessionEnv<Data>> & {
  /** The manager that loads and commits: for `listSessions`, `destroySessions`, `close`. */
  readonly manager: SessionManager<Data>;
};

/**
 * How a sess error travels in Hono: a client error (403 CSRF, 409 session
 * gone) or a store failure (503) as an `HTTPException` with that status, the
 * safe response of core's `errorResponse` and the sess error as `cause`
 * (`app.onError` can render its own page from it); anything else (a bug, a
 * value the store refused) is thrown as it is, so Hono logs it and answers 500.
 */
function toHTTPException(err: unknown, vary = false): unknown {
  if (!isSessionError(err) || (err.status >= 500 && err.status !== 503)) return err;
  const { status, headers, body } = errorResponse(err); // errorToResponse's answer, with Vary in its init (see addHeaders)
  const res = new Response(body, { status, headers: vary ? { ...headers, vary: CSRF_VARY } : headers });
  return new HTTPException(status as 500, { res, message: body, cause: err });
}

/**
 * The request as the lifecycle sees it. The CSRF form field is read from a
 * clone of the raw request, so the body stays readable for everyone; when a
 * validator already consumed it, from Hono's parsed-body cache instead.
 */
function exchangeOf(c: Context): Exchange {
  const fetchSide = fetchExchange(c.req.raw);
  return { ...fetchSide, body: () => (c.req.raw.bodyUsed ? c.req.parseBody() : (fetchSide.body as () => Promise<unknown>)()) };
}

/**
 * Adds headers to `c.res`, as a copy whose headers object travels with it: on
 * Node, @hono/node-server 1.x's `Response` forgets `headers.append()` changes
 * once its body is read (honojs/node-server#304), as happens when an outer
 * middleware calls `c.header()` after `next()` (`cors`, `secureHeaders`). A 101
 * (a WebSocket upgrade) or a used body cannot be copied: changed in place.
 */
function addHeaders(c: Context, add: Array<[string, string]>): void {
  if (add.length === 0) return;
  const res = c.res;
  const headers = new Headers(res.headers); // read before the body (see above)
  for (const [name, value] of add) headers.append(name, value);
  const status = res.status;
  let out: Response;
  if (status < 200 || status > 599 || res.bodyUsed) out = add.reduce((r, [name, value]) => withHeader(r, name, value), res);
  else out = new Response(res.body, { status, statusText: res.statusText, headers });
  if (out === res) return;
  c.res = undefined; // replaced whole: Hono's setter would merge the old headers into the new response
  c.res = out;
}

/**
 * Loads the session into `c.var.session`, runs the rest of the app, then
 * commits and adds the cookie to `c.res`. A handler that threw (`c.error`) or a
 * 5xx response commits nothing unless `commitOnError` is set. A store failure
 * (503) or a refused CSRF check (403, with `csrf: true`) is thrown as an
 * `HTTPException` (`cause` is the sess error): Hono answers its status.
 *
 * @example
 * const app = new Hono<SessionEnv>();
 * app.use(session({ secret: process.env.SESSION_SECRET!, store: new MemoryStore() }));
 * app.get('/', (c) => c.json({ visits: c.var.session.increment('visits') }));
 */
export function session<Data extends object = DefaultData>(options: SessionOptions | SessionManager<Data>, lifecycleOptions: LifecycleOptions = options as LifecycleOptions): SessionMiddleware<Data> {
  const manager = toManager<Data>(options);
  const lifecycle = new SessionLifecycle<Data>(manager, lifecycleOptions);
  const middleware: MiddlewareHandler<SessionEnv<Data>> = async (c, next) => {
    if (managerOf(c.get('session')) === manager) return next(); // mounted twice
    let request;
    try {
      request = await lifecycle.begin(exchangeOf(c));
    } catch (err) {
      throw toHTTPException(err, lifecycle.checksCsrf);
    }
    c.set('session', request.session);
    c.set('csrfToken', () => request.csrfToken());
    await next(); // Hono catches a handler's error, sets c.error and c.res (app.onError's answer)
    let cookie;
    try {
      cookie = await request.finish(c.error === undefined ? { status: c.res.status } : { error: c.error });
    } catch (err) {
      c.res = undefined; // the handler's answer is not sent as if all went well
      throw toHTTPException(err, lifecycle.checksCsrf);
    }
    const add: Array<[string, string]> = cookie === undefined ? [] : [['set-cookie', cookie.header]];
    if (lifecycle.checksCsrf) add.push(['vary', CSRF_VARY]);
    addHeaders(c, add);
  };
  return Object.assign(middleware, { manager });
}

/**
 * Refuses unsafe requests (POST, PUT, PATCH, DELETE) without a valid one-time
 * token in the `_token` form field or the `x-csrf-token` header, or sent
 * cross-site: throws an `HTTPException` (403) whose `cause` is the `CsrfError`.
 * Place it after `session()`. The form body is read from a clone, so
 * `c.req.parseBody()` still works. The token use is a store write of its own;
 * with `session({ csrf: true })` it shares the load's write instead.
 *
 * @example
 * app.use(session({ secret, store }), csrf());
 */
export function csrf(options: CsrfOptions = {}): MiddlewareHandler<SessionEnv<any>> {
  const check = createCsrfCheck(options);
  return async (c, next) => {
    const current = c.get('session') as Session | undefined;
    const manager = managerOf(current);
    if (!current || !manager) throw new ConfigError('[sess] csrf() found no session: add app.use(session({ secret, store })) before app.use(csrf()).');
    c.set('csrfToken', () => current.generateToken());
    try {
      await check(manager, current, exchangeOf(c));
    } catch (err) {
      throw toHTTPException(err, true);
    }
    await next();
    addHeaders(c, [['vary', CSRF_VARY]]);
  };
}
