import { type CsrfEvent, diagnostics } from './diagnostics.js';
import { CsrfError } from './errors.js';
import type { SessionManager } from './manager.js';
import type { Session } from './session.js';

export interface CsrfOptions {
  /**
   * Other origins allowed to send unsafe requests (`https://admin.example.com`).
   * The request's own origin (from its Host header) is always allowed.
   * @default []
   */
  origins?: string[];
  /** Accept `Sec-Fetch-Site: same-site` (a sibling subdomain). @default false */
  allowSameSite?: boolean;
  /** Form field that carries the token. @default '_token' */
  field?: string;
  /** Header that carries the token. @default 'x-csrf-token' */
  header?: string;
  /** Methods that are never checked. @default ['GET', 'HEAD', 'OPTIONS'] */
  ignoreMethods?: string[];
}

/** What a CSRF check needs to know of a request, whatever the framework. */
export interface CsrfRequest {
  method: string;
  /** A request header by lower-case name. */
  header(name: string): string | undefined;
  /** The parsed body, if the app parsed one (the token's form field is read from it), or a function that reads it. */
  body?: unknown | (() => Promise<unknown>);
}

/** The headers an unsafe response depends on; adapters add them to `Vary`. */
export const CSRF_VARY = 'Sec-Fetch-Site, Origin';

/**
 * Builds the CSRF check the adapters run before a handler. An unsafe request
 * (POST, PUT, PATCH, DELETE, ...) passes when:
 * 1. Fetch Metadata allows it: `Sec-Fetch-Site` is `same-origin` or `none`
 *    (`same-site` only with `allowSameSite`); without that header, an `Origin`
 *    header, when present, must be the request's own origin or a configured one;
 * 2. it carries a token from the session's ring (form field `_token` or header
 *    `x-csrf-token`; never the query string or a cookie), consumed atomically
 *    in the store, so of two requests with one token exactly one passes.
 * Otherwise it throws a `CsrfError` (status 403).
 *
 * @example
 * const check = createCsrfCheck({ origins: ['https://example.com'] });
 * await check(manager, session, { method: req.method, header: (n) => req.headers[n], body: req.body });
 */
/** A refusal: published on `sess:csrf` for whoever listens, then thrown by the caller. */
function refused(error: CsrfError, method: string): CsrfError {
  if (diagnostics.csrf.hasSubscribers) diagnostics.csrf.publish({ reason: error.reason, method: method.toUpperCase() } satisfies CsrfEvent);
  return error;
}

export function createCsrfCheck(options: CsrfOptions = {}) {
  const field = options.field ?? '_token';
  const header = (options.header ?? 'x-csrf-token').toLowerCase();
  const safe = new Set((options.ignoreMethods ?? ['GET', 'HEAD', 'OPTIONS']).map((m) => m.toUpperCase()));
  const origins = new Set((options.origins ?? []).map(normaliseOrigin));
  const allowSameSite = options.allowSameSite ?? false;

  function checkSource(request: CsrfRequest): void {
    const site = request.header('sec-fetch-site');
    if (site !== undefined) {
      // Why Fetch Metadata first: the browser sets it and a page cannot forge it,
      // so a cross-site form post is refused before any token lookup.
      if (site === 'same-origin' || site === 'none') return;
      if (site === 'same-site' && allowSameSite) return;
      const origin = request.header('origin');
      if (origin !== undefined && origins.has(normaliseOrigin(origin))) return;
      throw refused(new CsrfError(`[sess] CSRF check refused a ${site} request: allow its origin with csrf({ origins })${site === 'same-site' ? ' or allowSameSite' : ''}.`, 'cross-site'), request.method);
    }
    const origin = request.header('origin');
    if (origin === undefined) return; // not a browser, or an old one: the token decides
    if (origins.has(normaliseOrigin(origin))) return;
    // The host the browser addressed: Host, or the one a proxy (or Next's rewrite)
    // forwarded. Safe to trust for CSRF: a cross-site form cannot set either header.
    const own = hostOf(origin);
    const hosts = [request.header('host'), request.header('x-forwarded-host')?.split(',')[0]?.trim()];
    if (origin !== 'null' && own !== undefined && hosts.some((h) => h !== undefined && h.toLowerCase() === own)) return;
    throw refused(new CsrfError(`[sess] CSRF check refused a request from origin ${origin}: allow it with csrf({ origins }).`, 'origin-mismatch'), request.method);
  }

  async function tokenOf(request: CsrfRequest): Promise<string | undefined> {
    const fromHeader = request.header(header);
    if (typeof fromHeader === 'string' && fromHeader !== '') return fromHeader;
    let body = request.body;
    if (typeof body === 'function') {
      try {
        body = await (body as () => Promise<unknown>)();
      } catch {
        return undefined; // an unreadable body carries no token: the check refuses it
      }
    }
    if (body !== null && typeof body === 'object' && Object.prototype.hasOwnProperty.call(body, field)) {
      const value = (body as Record<string, unknown>)[field];
      if (typeof value === 'string') return value;
    }
    return undefined;
  }

  function refuse(token: string | undefined, method = 'POST'): never {
    if (token === undefined) {
      throw refused(new CsrfError(`[sess] CSRF token missing: send it in the "${field}" form field or the "${header}" header.`, 'missing-token'), method);
    }
    throw refused(new CsrfError('[sess] CSRF token invalid, expired or already used: render the form again with a new session.generateToken().', 'invalid-token'), method);
  }

  const isSafe = (method: string) => safe.has(method.toUpperCase());

  async function csrfCheck<Data extends object>(manager: SessionManager<Data>, session: Session<Data>, request: CsrfRequest): Promise<void> {
    if (isSafe(request.method)) return;
    checkSource(request);
    const token = await tokenOf(request);
    if (token === undefined || !(await manager.consumeToken(session, token))) refuse(token, request.method);
  }
  // The parts, for the request lifecycle, which consumes the token inside `load`.
  return Object.assign(csrfCheck, { isSafe, checkSource, tokenOf, refuse });
}

function normaliseOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase();
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return undefined;
  }
}
