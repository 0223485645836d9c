/**
 * The Fetch binding of `@sess/core/http` as a package: a `Request` in, a
 * `Response` out, for any framework whose handlers speak Web standards. The
 * lifecycle (load, CSRF, commit or roll back, cookie, error bodies) lives in
 * core; this file adds `Vary`, the `onError` page and the `handle` wrapper.
 */
import { CSRF_VARY, toManager } from '@sess/core';
import type { DefaultData, Session, SessionManager, SessionManagerOptions } from '@sess/core';
import { SessionLifecycle, errorToResponse, fetchExchange, isSessionError, withHeader, type LifecycleOptions, type SessionRequest } from '@sess/core/http';

export type { CsrfOptions, DefaultData, Session, SessionData, SessionManagerOptions } from '@sess/core';
export type { LifecycleOptions } from '@sess/core/http';
export { errorToResponse } from '@sess/core/http';

/** A sess error: `status` 403 (CSRF), 409 (session gone), 503 (store), 500 (a value or record the store refused). */
export type SessionFailure = Error & { code: string; status: number };

export interface HandlerOptions {
  /**
   * Answers a sess error (a refused CSRF token: 403, a store failure: 503) with
   * your own page. Without it, `errorToResponse` (plain text, no internal detail).
   * @example onError: (err) => new Response(page(err.status), { status: err.status, headers: { 'content-type': 'text/html' } })
   */
  onError?: (error: SessionFailure, request: Request) => Response | Promise<Response>;
}

/** `createSessions()` options: the manager's, the lifecycle's `csrf` and `commitOnError`, and `onError`. */
export type SessionsOptions = SessionManagerOptions & LifecycleOptions & HandlerOptions;

/** One request's session, from `sessions.begin(request)`. */
export interface ActiveSession<Data extends object = DefaultData> {
  session: Session<Data>;
  /** A new one-time CSRF token for a form's `_token` field (or the `x-csrf-token` header). */
  csrfToken(): string;
  /**
   * Commits (a 5xx response rolls back, unless `commitOnError`) and returns the
   * response with the cookie: a copy (same status and body stream) when there
   * is a header to add, so immutable headers (`Response.redirect()`, a
   * `fetch()` response) are no problem. A failed commit returns the error
   * response instead. Called again, it adds no second cookie.
   */
  finish(response: Response): Promise<Response>;
  /**
   * Commits and returns the headers to send (`Set-Cookie`, `Vary`), for a
   * framework that builds the response itself (`data(value, { headers })`).
   * Throws the commit's `StoreError`/`SessionGoneError`.
   */
  finish(): Promise<Headers>;
  /** For a handler that threw: rolls back (or commits, with `commitOnError`) and returns the error response (`onError` for sess errors). */
  fail(error: unknown): Promise<Response>;
  /** The lifecycle's request (`needsCommit()`), for adapters. */
  readonly request: SessionRequest<Data>;
}

/** What `createSessions()` returns. */
export interface Sessions<Data extends object = DefaultData> {
  /** The manager that loads and commits: for `listSessions`, `destroySessions`, `close`. */
  readonly manager: SessionManager<Data>;
  /** Loads the session (and checks CSRF with `csrf`). Throws `CsrfError` (403) or `StoreError` (503): answer them with `sessions.errorResponse(err, request)`. */
  begin(request: Request): Promise<ActiveSession<Data>>;
  /**
   * `begin`, your handler, `finish`, in one call. A sess error answers with
   * its status (`onError`, or plain text); any other error rolls the session
   * back and is thrown on, to the framework's error handling.
   */
  handle(request: Request, handler: (session: Session<Data>, active: ActiveSession<Data>) => Response | Promise<Response>): Promise<Response>;
  /** The response for an error of `begin`: `onError` for a sess error, else `errorToResponse` (500, no detail). */
  errorResponse(error: unknown, request: Request): Promise<Response>;
}

/**
 * Sessions for a Fetch handler. With `Data` the session is typed:
 * `createSessions<{ user: string }>(options)`.
 *
 * @example
 * const sessions = createSessions({ secret: process.env.SESSION_SECRET!, store });
 * export default { fetch: (request: Request) => sessions.handle(request, (session) => Response.json({ visits: session.increment('visits') })) };
 */
export function createSessions<Data extends object = DefaultData>(
  options: SessionsOptions | SessionManager<Data>,
  lifecycleOptions: LifecycleOptions & HandlerOptions = options as SessionsOptions,
): Sessions<Data> {
  const manager = toManager<Data>(options);
  const lifecycle = new SessionLifecycle<Data>(manager, lifecycleOptions);
  const { onError } = lifecycleOptions;
  const varies: Array<[string, string]> = lifecycle.checksCsrf ? [['vary', CSRF_VARY]] : [];
  const errorResponse = async (error: unknown, request: Request) => withHeaders(onError && isSessionError(error) ? await onError(error, request) : errorToResponse(error), varies);

  async function begin(request: Request): Promise<ActiveSession<Data>> {
    const active = await lifecycle.begin(fetchExchange(request));
    let sent = false; // the cookie goes on one response only
    async function finish(response?: Response): Promise<any> {
      if (response === undefined) {
        const headers = new Headers(lifecycle.checksCsrf ? { vary: CSRF_VARY } : {});
        const cookie = await active.finish({ status: 200 });
        if (cookie && !sent) headers.append('set-cookie', cookie.header);
        sent = true;
        return headers;
      }
      let cookie;
      try {
        cookie = await active.finish({ status: response.status });
      } catch (err) {
        return errorResponse(err, request);
      }
      const out = withHeaders(response, cookie && !sent ? [['set-cookie', cookie.header], ...varies] : varies);
      sent = true;
      return out;
    }
    return {
      session: active.session,
      request: active,
      csrfToken: () => active.csrfToken(),
      finish,
      async fail(error) {
        let cookie;
        try {
          cookie = await active.finish({ error });
        } catch (err) {
          return errorResponse(err, request);
        }
        const answer = await errorResponse(error, request);
        return cookie && !sent ? ((sent = true), withHeaders(answer, [['set-cookie', cookie.header]])) : answer;
      },
    };
  }

  return {
    manager,
    begin,
    errorResponse,
    async handle(request, handler) {
      let active: ActiveSession<Data>;
      try {
        active = await begin(request);
      } catch (err) {
        if (!isSessionError(err)) throw err;
        return errorResponse(err, request);
      }
      let response: Response;
      try {
        response = await handler(active.session, active);
      } catch (err) {
        const failed = await active.fail(err);
        if (!isSessionError(err)) throw err;
        return failed;
      }
      return active.finish(response);
    },
  };
}

/**
 * The response with headers added, as a copy whose headers object travels with
 * it. Why not `headers.append` on the response itself: @hono/node-server 1.x
 * replaces the global `Response` with one that forgets such changes once its
 * body is read (honojs/node-server#304), which happens when a later middleware
 * copies the response (Hono's `c.header()` after `next()`, `cors`, `compress`).
 * A 101 (a WebSocket upgrade) or a used body cannot be copied: changed in place.
 */
function withHeaders(response: Response, add: Array<[string, string]>): Response {
  if (add.length === 0) return response;
  const headers = new Headers(response.headers); // read before the body (see above)
  for (const [name, value] of add) headers.append(name, value);
  const status = response.status;
  if (status < 200 || status > 599 || response.bodyUsed) return add.reduce((out, [name, value]) => withHeader(out, name, value), response);
  return new Response(response.body, { status, statusText: response.statusText, headers });
}
