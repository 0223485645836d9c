/**
 * The Fetch binding of the lifecycle: a `Request` in, a `Response` out. For
 * any framework whose handlers speak Web standards (Hono, React Router,
 * SvelteKit, Astro, `Bun.serve`, `Deno.serve`, Next.js route handlers).
 */
import type { DefaultData } from '../types.js';
import type { Session } from '../session.js';
import type { SessionCookie } from '../cookie.js';
import { errorResponse } from './error-response.js';
import type { Exchange, SessionLifecycle, SessionRequest } from './lifecycle.js';

/** A Fetch request as the lifecycle sees it: the form body is read from a clone, only when the CSRF token is not in a header. */
export function fetchExchange(request: Request): Exchange {
  return {
    method: request.method,
    header: (name) => request.headers.get(name) ?? undefined,
    body: () => formFields(request),
  };
}

/** What `beginFetch` hands out: the session, and `finish` for the response. */
export interface FetchSession<Data extends object = DefaultData> {
  session: Session<Data>;
  /** The lifecycle's request (for `csrfToken()`, `needsCommit()`). */
  request: SessionRequest<Data>;
  /**
   * Commits (or rolls back, for a 5xx under the default policy) and returns
   * the response with the cookie: the same object, or a copy when its headers
   * are immutable (`Response.redirect()`, a `fetch()` response). A commit
   * failure returns the error response instead.
   */
  finish(response: Response): Promise<Response>;
  /** For a handler that threw: rolls back (or commits, with `commitOnError`) and returns the error response. */
  fail(error: unknown): Promise<Response>;
}

/**
 * Begins the session of a Fetch `Request`. Throws `CsrfError`/`StoreError`;
 * turn them into a response with `errorToResponse`.
 *
 * @example
 * const { session, finish } = await beginFetch(lifecycle, request);
 * session.increment('visits');
 * return finish(new Response('ok'));
 */
export async function beginFetch<Data extends object = DefaultData>(lifecycle: SessionLifecycle<Data>, request: Request): Promise<FetchSession<Data>> {
  const active = await lifecycle.begin(fetchExchange(request));
  return {
    session: active.session,
    request: active,
    async finish(response) {
      let cookie: SessionCookie | undefined;
      try {
        cookie = await active.finish({ status: response.status });
      } catch (err) {
        return errorToResponse(err);
      }
      return cookie === undefined ? response : withHeader(response, 'set-cookie', cookie.header);
    },
    async fail(error) {
      let cookie: SessionCookie | undefined;
      try {
        cookie = await active.finish({ error });
      } catch (err) {
        return errorToResponse(err);
      }
      const answer = errorToResponse(error);
      return cookie === undefined ? answer : withHeader(answer, 'set-cookie', cookie.header);
    },
  };
}

/** `errorResponse` as a Fetch `Response`. */
export function errorToResponse(err: unknown): Response {
  const { status, headers, body } = errorResponse(err);
  return new Response(body, { status, headers });
}

/** Appends a header, copying the response when its headers are immutable. */
export function withHeader(response: Response, name: string, value: string): Response {
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

/** Form fields of a urlencoded or multipart body, read from a clone so the handler can still read it. */
async function formFields(request: Request): Promise<Record<string, string> | undefined> {
  const type = request.headers.get('content-type') ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded') && !type.startsWith('multipart/form-data')) return undefined;
  const fields: Record<string, string> = {};
  for (const [key, value] of await request.clone().formData()) if (typeof value === 'string') fields[key] = value;
  return fields;
}
