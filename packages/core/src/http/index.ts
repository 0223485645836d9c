/**
 * `@sess/core/http`: the one request lifecycle of every sess adapter, with a
 * Node binding (`beginNode`: `IncomingMessage`/`ServerResponse`, response held
 * until the commit is done) and a Fetch binding (`beginFetch`: `Request` in,
 * `Response` out). An adapter is glue over one of them: where the session
 * lives, its types, how errors travel.
 */
export { SessionLifecycle, SessionRequest, type Exchange, type LifecycleOptions, type Outcome } from './lifecycle.js';
export { errorResponse, isSessionError, statusOf, type ErrorResponse } from './error-response.js';
export { appendSetCookie, beginNode, holdResponse, nodeExchange } from './node.js';
export { beginFetch, errorToResponse, fetchExchange, withHeader, type FetchSession } from './fetch.js';
export type { CookieAttributes, SessionCookie } from '../cookie.js';
