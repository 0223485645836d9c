import type { SessionManager } from '@sess/core';
import { type NextSession, withSave } from './next-session.js';

/** The context a wrapped handler receives: Next's own (`params`, or the middleware event), plus `session`. */
export type WithSessionContext<Context, Data extends object> = Context & { session: NextSession<Data> };

/** A route handler (or middleware) that gets the session in its context. */
export type SessionHandler<Context, Data extends object> = (
  request: Request,
  context: WithSessionContext<Context, Data>,
) => Response | Promise<Response>;

/** Builds `withSession(handler)`: load, run, commit, and set the cookie on the returned Response. */
export function createWithSession<Data extends object>(manager: SessionManager<Data>) {
  return function withSession<Context = { params: Promise<Record<string, string | string[]>> }>(
    handler: SessionHandler<Context, Data>,
  ): (request: Request, context: Context) => Promise<Response> {
    return async (request, context) => {
      const loaded = await manager.load(request.headers.get('cookie'));
      // Inside the wrapper save() only writes early; the cookie goes on the returned Response.
      const session = withSave(loaded, async () => void (await manager.commit(loaded)));
      // Keep Next's context object as the prototype: `params` and the middleware
      // event's methods stay reachable, and nothing of it is copied.
      const withSessionContext = Object.assign(Object.create((context ?? null) as object), { session }) as WithSessionContext<Context, Data>;
      const response = await handler(request, withSessionContext);
      if (!(response instanceof Response)) {
        throw new TypeError('[sess] a handler wrapped in withSession() must return a Response (in middleware: NextResponse.next()).');
      }
      const header = await manager.commit(session);
      return header === undefined ? response : appendSetCookie(response, header);
    };
  };
}

function appendSetCookie(response: Response, header: string): Response {
  try {
    response.headers.append('set-cookie', header);
    return response;
  } catch {
    // Response.redirect() and fetch() responses have immutable headers: copy.
    const copy = new Response(response.body, response);
    copy.headers.append('set-cookie', header);
    return copy;
  }
}
