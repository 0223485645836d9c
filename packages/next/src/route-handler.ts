import { STATUS_CODES } from 'node:http';
import { debuglog } from 'node:util';
import { CSRF_VARY, type CsrfOptions, type SessionManager, createCsrfCheck } from '@sess/core';
import { type NextSession, withSave } from './next-session.js';

const debug = debuglog('sess:next');

/** The context a wrapped handler receives: Next's own (`params`, or the middleware event), plus `session`. */
export type WithSessionContext<Context, Data extends object> = Context & { session: NextSession<Data> };

/** A route handler (or middleware) that gets the session in its context. */
export type SessionHandler<Context, Data extends object> = (
  request: Request,
  context: WithSessionContext<Context, Data>,
) => Response | Promise<Response>;

export interface WithSessionOptions {
  /**
   * Check CSRF before the handler runs, for unsafe methods (POST, PUT, PATCH,
   * DELETE): Fetch Metadata / Origin, then a token from `session.generateToken()`
   * in the `_token` form field or the `x-csrf-token` header, consumed atomically.
   * A refused request gets 403 and the handler does not run.
   * @default false
   * @example export const POST = withSession(handler, { csrf: true })
   */
  csrf?: boolean | CsrfOptions;
  /**
   * Answers a `SessionError` (a refused CSRF token: 403, a store failure: 503)
   * with your own page. Without it, a plain-text response with the error's status.
   * @example onError: (err) => new Response(renderForbidden(), { status: err.status, headers: { 'content-type': 'text/html' } })
   */
  onError?: (error: Error & { code: string; status: number }, request: Request) => Response | Promise<Response>;
}

/** Builds `withSession(handler)`: load, run, commit, and set the cookie on the returned Response. */
export function createWithSession<Data extends object>(manager: SessionManager<Data>) {
  return function withSession<Context = { params: Promise<Record<string, string | string[]>> }>(
    handler: SessionHandler<Context, Data>,
    options: WithSessionOptions = {},
  ): (request: Request, context: Context) => Promise<Response> {
    const csrf = options.csrf ? createCsrfCheck(options.csrf === true ? {} : options.csrf) : undefined;
    return async (request, context) => {
      try {
        const loaded = await manager.load(request.headers.get('cookie'));
        // Inside the wrapper save() only writes early; the cookie goes on the returned Response.
        const session = withSave(loaded, async () => void (await manager.commit(loaded)));
        if (csrf) {
          await csrf(manager, session, { method: request.method, header: (name) => request.headers.get(name) ?? undefined, body: await formFields(request) });
        }
        // Keep Next's context object as the prototype: `params` and the middleware
        // event's methods stay reachable, and nothing of it is copied.
        const withSessionContext = Object.assign(Object.create((context ?? null) as object), { session }) as WithSessionContext<Context, Data>;
        let response = await handler(request, withSessionContext);
        if (!(response instanceof Response)) {
          throw new TypeError('[sess] a handler wrapped in withSession() must return a Response (in middleware: NextResponse.next()).');
        }
        const header = await manager.commit(session);
        if (header !== undefined) response = withHeader(response, 'set-cookie', header);
        return csrf ? withHeader(response, 'vary', CSRF_VARY) : response;
      } catch (err) {
        if (!isSessionError(err)) throw err;
        // The express and koa adapters answer a SessionError with its status
        // (403 CSRF, 503 store); a route handler has no error middleware, so here.
        debug('%s answered %d: %s', request.url, err.status, err.message);
        if (options.onError) {
          const answer = await options.onError(err, request);
          return csrf ? withHeader(answer, 'vary', CSRF_VARY) : answer;
        }
        const body = err.status < 500 ? err.message : (STATUS_CODES[err.status] ?? 'Error');
        return new Response(body, { status: err.status, headers: { 'content-type': 'text/plain; charset=utf-8', ...(csrf ? { vary: CSRF_VARY } : {}) } });
      }
    };
  };
}

/** Form fields of a urlencoded or multipart body (read from a clone: the handler can still read it). */
async function formFields(request: Request): Promise<Record<string, string> | undefined> {
  const type = request.headers.get('content-type') ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded') && !type.startsWith('multipart/form-data')) return undefined;
  try {
    const fields: Record<string, string> = {};
    for (const [key, value] of await request.clone().formData()) if (typeof value === 'string') fields[key] = value;
    return fields;
  } catch {
    return undefined; // an unreadable body carries no token: the check refuses it
  }
}

function isSessionError(err: unknown): err is Error & { code: string; status: number } {
  // Duck-typed: Next may bundle @sess/core more than once.
  return err instanceof Error && err.message.startsWith('[sess]') && typeof (err as { code?: unknown }).code === 'string' && typeof (err as { status?: unknown }).status === 'number';
}

function withHeader(response: Response, name: string, value: string): Response {
  try {
    response.headers.append(name, value);
    return response;
  } catch {
    // Response.redirect() and fetch() responses have immutable headers: copy.
    const copy = new Response(response.body, response);
    copy.headers.append(name, value);
    return copy;
  }
}
