import { debuglog } from 'node:util';
import { CSRF_VARY, type CsrfOptions, type SessionManager } from '@sess/core';
import { SessionLifecycle, beginFetch, errorToResponse, isSessionError, withHeader } from '@sess/core/http';
import { type NextSession, withSave } from './next-session.js';

const debug = debuglog('sess:next');

/** The context a wrapped handler receives: Next's own (`params`, or the middleware event), plus `session`. */
export type WithSessionContext<Context, Data extends object> = Context & { session: NextSession<Data> };

/** A route handler (or middleware / proxy) that gets the session in its context. */
export type SessionHandler<Context, Data extends object> = (
  request: Request,
  context: WithSessionContext<Context, Data>,
) => Response | Promise<Response>;

export interface WithSessionOptions {
  /**
   * Check CSRF before the handler runs, for unsafe methods (POST, PUT, PATCH,
   * DELETE): Fetch Metadata / Origin, then a token from `session.generateToken()`
   * in the `_token` form field or the `x-csrf-token` header, consumed in the
   * load's store write. A refused request gets 403 and the handler does not run.
   * @default false
   * @example export const POST = withSession(handler, { csrf: true })
   */
  csrf?: boolean | CsrfOptions;
  /**
   * Whether a handler that throws or returns a 5xx still writes its session changes.
   * @default false
   */
  commitOnError?: boolean;
  /**
   * Answers a `SessionError` (a refused CSRF token: 403, a store failure: 503)
   * with your own page. Without it, core's `errorResponse` (plain text, no internal detail).
   * @example onError: (err) => new Response(renderForbidden(), { status: err.status, headers: { 'content-type': 'text/html' } })
   */
  onError?: (error: Error & { code: string; status: number }, request: Request) => Response | Promise<Response>;
}

/** Builds `withSession(handler)`: the Fetch binding of the lifecycle around a route handler or `proxy.ts`. */
export function createWithSession<Data extends object>(manager: SessionManager<Data>) {
  return function withSession<Context = { params: Promise<Record<string, string | string[]>> }>(
    handler: SessionHandler<Context, Data>,
    options: WithSessionOptions = {},
  ): (request: Request, context: Context) => Promise<Response> {
    const lifecycle = new SessionLifecycle<Data>(manager, options);
    const vary = (response: Response) => (options.csrf ? withHeader(response, 'vary', CSRF_VARY) : response);
    const answer = async (err: unknown, request: Request): Promise<Response> => {
      if (!isSessionError(err)) throw err;
      debug('%s answered %d: %s', request.url, err.status, err.message);
      return vary(options.onError ? await options.onError(err, request) : errorToResponse(err));
    };
    return async (request, context) => {
      let active;
      try {
        active = await beginFetch(lifecycle, request);
      } catch (err) {
        return answer(err, request);
      }
      // Inside the wrapper save() only writes early; the cookie goes on the returned Response.
      const session = withSave(active.session, async () => void (await active.request.finish()));
      // Keep Next's context object as the prototype: `params` and the middleware
      // event's methods stay reachable, and nothing of it is copied.
      const withSessionContext = Object.assign(Object.create((context ?? null) as object), { session }) as WithSessionContext<Context, Data>;
      let response: Response;
      try {
        response = await handler(request, withSessionContext);
        if (!(response instanceof Response)) {
          throw new TypeError('[sess] a handler wrapped in withSession() must return a Response (in proxy.ts/middleware: NextResponse.next()).');
        }
      } catch (err) {
        // Next's redirect() is thrown: it ends the request normally, so commit and redirect here.
        const redirect = nextRedirect(err, request);
        if (redirect === undefined) {
          const failed = await active.fail(err); // rolls back (or commits, with commitOnError)
          if (!isSessionError(err)) throw err;
          return options.onError ? answer(err, request) : vary(failed);
        }
        response = redirect;
      }
      // The commit, with its failure answered like any sess error (your onError page included).
      let cookie;
      try {
        cookie = await active.request.finish({ status: response.status });
      } catch (err) {
        return answer(err, request);
      }
      return vary(cookie === undefined ? response : withHeader(response, 'set-cookie', cookie.header));
    };
  };
}

/** The response of a thrown `redirect()` of next/navigation (its digest is `NEXT_REDIRECT;type;url;status;`). */
function nextRedirect(err: unknown, request: Request): Response | undefined {
  const digest = (err as { digest?: unknown } | null)?.digest;
  if (typeof digest !== 'string' || !digest.startsWith('NEXT_REDIRECT;')) return undefined;
  const parts = digest.split(';');
  const location = parts.slice(2, -2).join(';');
  const status = Number(parts.at(-2)) || 307;
  return new Response(null, { status, headers: { location: new URL(location, request.url).toString() } });
}
