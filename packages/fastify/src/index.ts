/**
 * Fastify glue over `@sess/core/http`: the lifecycle (load, CSRF, commit,
 * cookie, commit-on-error policy) lives in core; this file says where the
 * session lives (`request.session`, `reply.locals.session`), when it is begun
 * and committed (the `onRequest`/`preValidation` and `onSend` hooks), and how
 * errors travel (Fastify's error handler, with the status core defines).
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { CSRF_VARY, ConfigError, createCsrfCheck, managerOf, toManager } from '@sess/core';
import type { CsrfOptions, DefaultData, Session, SessionManager, SessionManagerOptions } from '@sess/core';
import { SessionLifecycle, SessionRequest, isSessionError, type Exchange, type LifecycleOptions } from '@sess/core/http';

export type { CsrfOptions, SessionManagerOptions } from '@sess/core';
export type { LifecycleOptions } from '@sess/core/http';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's session, set by the `session` plugin (null before it is begun). */
    session: Session;
  }
  interface FastifyReply {
    /** A new one-time CSRF token for a form's `_token` field. */
    csrfToken(): string;
  }
  interface FastifyInstance {
    /** The manager that loads and commits: for `listSessions`, `destroySessions`, `close`. */
    sessionManager: SessionManager;
  }
}

/** Plugin options: the manager's (or a `manager` you built), plus the lifecycle's `csrf` and `commitOnError`. */
export type SessionPluginOptions = (SessionManagerOptions | { manager: SessionManager<any> }) & LifecycleOptions;

/** Where one request is in the plugin's hooks. */
interface State {
  active?: SessionRequest<any>;
  /** The error Fastify's error path carries (seen by `onError`). */
  error?: unknown;
  /** `committing`: the first answer waits for the commit; anything answered meanwhile is a second answer. */
  phase: 'open' | 'committing' | 'sent' | 'failed';
  vary: boolean;
  /** The plugin's `csrf` checked this request at load: `csrf()` has nothing left to do. */
  checked?: boolean;
}
const states = new WeakMap<FastifyRequest, State>();
const stateOf = (request: FastifyRequest): State => {
  let state = states.get(request);
  if (!state) states.set(request, (state = { phase: 'open', vary: false }));
  return state;
};

const exchangeOf = (request: FastifyRequest): Exchange => ({
  method: request.method,
  header: (name) => [request.headers[name]].flat()[0],
  body: request.body,
});

/** Headers that describe a response a failed commit replaces. */
const DISCARDED = ['location', 'set-cookie', 'etag', 'last-modified', 'content-disposition', 'content-encoding'];

const plugin: FastifyPluginCallback<SessionPluginOptions> = (fastify, options, done) => {
  if (fastify.hasRequestDecorator('session')) {
    return done(new ConfigError('[sess] request.session is already decorated: register @sess/fastify once, and not beside another session plugin.'));
  }
  const manager = toManager<any>('manager' in options ? options.manager : options);
  const lifecycle = new SessionLifecycle<any>(manager, options);
  fastify.decorate('sessionManager', manager);
  fastify.decorateRequest('session', null as unknown as Session);
  fastify.decorateReply('csrfToken', function (this: FastifyReply) {
    return this.request.session.generateToken();
  });

  // With csrf the load waits for the parsed body (preValidation), so the token use and the load are one store write.
  fastify.addHook(lifecycle.checksCsrf ? 'preValidation' : 'onRequest', async (request, reply) => {
    const state = stateOf(request);
    state.active = await lifecycle.begin(exchangeOf(request));
    state.checked = lifecycle.checksCsrf;
    request.session = state.active.session;
    exposeLocals(request, reply);
  });
  // @fastify/view sets reply.locals = {} in its own onRequest hook, maybe after ours: expose again.
  fastify.addHook('preHandler', (request, reply, next) => {
    exposeLocals(request, reply);
    next();
  });

  fastify.addHook('onError', (request, reply, error, next) => {
    const state = stateOf(request);
    // An error thrown after reply.send() while that answer waits for its commit: the first answer wins.
    if (state.phase === 'committing') return void reply.log.error({ err: error }, '[sess] an error after the reply was sent is dropped: the reply goes out as sent');
    failWith(state, reply, error);
    const active = state.active;
    if (state.phase !== 'open' || !active || lifecycle.commitOnError || !active.needsCommit()) return next();
    // The failed handler's changes are dropped now; the error handler gets the session as stored,
    // and what it does (a flash, a token for the error page's form) is committed with its answer.
    state.active = undefined;
    active
      .finish({ error })
      .then(() => manager.load(exchangeOf(request).header('cookie')))
      .then((fresh) => {
        state.active = new SessionRequest(lifecycle, fresh);
        request.session = fresh;
        exposeLocals(request, reply);
      })
      .catch((err: unknown) => reply.log.warn({ err }, '[sess] the session could not be reloaded for the error handler: its changes are not saved'))
      .finally(() => next());
  });

  fastify.addHook('onSend', (request, reply, payload, next) => {
    const state = stateOf(request);
    if (state.phase === 'committing') return void reply.log.warn('[sess] a second reply while the first waits for its commit is dropped');
    const finish = (cookie?: string) => {
      if (cookie !== undefined) appendSetCookie(reply, cookie);
      if (lifecycle.checksCsrf || state.vary) appendVary(reply);
      next(null, safeBody(state.error, reply, payload));
    };
    const active = state.active;
    if (state.phase !== 'open' || !active) return finish();
    state.phase = 'sent';
    if (!active.needsCommit()) return finish(); // read-only: the reply goes out at once
    state.phase = 'committing';
    active.finish({ status: reply.statusCode }).then(
      (cookie) => {
        state.phase = 'sent';
        finish(cookie?.header);
      },
      (err: unknown) => {
        state.phase = 'failed';
        failWith(state, reply, err);
        discard(payload);
        next(err as Error); // through onError and the error handler: a 503 (409 for a session gone) replaces the reply
      },
    );
  });
  done();
};

/**
 * The plugin: loads the session into `request.session` (in `onRequest`, or in
 * `preValidation` with `csrf`, where the parsed body carries the token), and
 * commits in `onSend`, before the headers go out, however the reply ends
 * (`send`, `redirect`, a stream, `view`, the error handler). Unless
 * `commitOnError` is set, a handler that threw has its changes dropped before
 * the error handler runs (which gets the session as stored, and whose own
 * changes are committed with its answer), and a reply with status 500 or more
 * commits nothing. Sess errors reach Fastify's error handler with their
 * status (403 CSRF, 409 session gone, 503 store).
 *
 * @example
 * await fastify.register(session, { secret: process.env.SESSION_SECRET!, store: new FileStore({ dir: './sessions' }) });
 * fastify.get('/', async (request) => ({ visits: request.session.increment('visits') }));
 */
export const session = fp(plugin, { fastify: '4.x || 5.x', name: '@sess/fastify' });
export default session;

/**
 * A `preHandler` that refuses unsafe requests (POST, PUT, PATCH, DELETE)
 * without a valid one-time token in the `_token` body field or the
 * `x-csrf-token` header, or sent cross-site: throws a `CsrfError` (403) to the
 * error handler. The token use is a store write of its own; the plugin's
 * `csrf: true` shares the load's write instead (and `csrf()` then passes
 * what that check passed).
 *
 * @example
 * fastify.post('/transfer', { preHandler: csrf() }, async (request) => ({ ok: true }));
 */
export function csrf(options: CsrfOptions = {}): preHandlerAsyncHookHandler {
  const check = createCsrfCheck(options);
  return async function csrfPreHandler(request) {
    const current = request.session as Session | null;
    const manager = managerOf(current);
    if (!current || !manager) throw new ConfigError('[sess] csrf() found no session: register the session plugin (fastify.register(session, { secret, store })) before csrf().');
    const state = stateOf(request);
    state.vary = true;
    if (state.checked) return; // the plugin's csrf option took the token with the load (a token is good once)
    await check(manager, current, exchangeOf(request));
  };
}

/**
 * `request.session` typed with your own data type, for code that does not
 * declare `SessionData` globally.
 * @example const cart = sessionOf<{ cart: string[] }>(request).get('cart', []);
 */
export function sessionOf<Data extends object = DefaultData>(request: FastifyRequest): Session<Data> {
  return request.session as unknown as Session<Data>;
}

/** Records the error of Fastify's error path; a sess error answers its own status, without the failed reply's headers. */
function failWith(state: State, reply: FastifyReply, error: unknown): void {
  state.error = error;
  if (!isSessionError(error)) return;
  (error as { statusCode?: number }).statusCode ??= error.status; // error handlers read statusCode
  reply.code(error.status);
  for (const name of DISCARDED) reply.removeHeader(name);
  reply.header('cache-control', 'no-store');
}

type WithLocals = { locals?: Record<string, unknown> | null };

/** The session and the token helper for views, where something (@fastify/view) decorated `reply.locals`. */
function exposeLocals(request: FastifyRequest, reply: FastifyReply): void {
  const current = request.session as Session | null;
  if (!current || !('locals' in reply)) return;
  const locals = ((reply as WithLocals).locals ??= {});
  if (locals.session === current) return;
  locals.session = current;
  locals.csrfToken = () => current.generateToken();
}

/** Adds a Set-Cookie value, keeping those the route set (through `reply.header` or `reply.raw.setHeader`). */
function appendSetCookie(reply: FastifyReply, value: string): void {
  const existing = reply.getHeader('set-cookie');
  if (existing === undefined) return void reply.header('set-cookie', value);
  reply.removeHeader('set-cookie');
  reply.header('set-cookie', [...[existing].flat().map(String), value]);
}

function appendVary(reply: FastifyReply): void {
  const existing = String(reply.getHeader('vary') ?? '');
  const names = existing.toLowerCase();
  if (names.includes('*') || (names.includes('sec-fetch-site') && names.includes('origin'))) return;
  reply.header('vary', existing ? `${existing}, ${CSRF_VARY}` : CSRF_VARY);
}

/**
 * Fastify's default error body shows `error.message`; a sess error from 500 on
 * can name a folder, a table or a driver. A body that carries such a message
 * becomes the status text, in Fastify's error shape.
 */
function safeBody(error: unknown, reply: FastifyReply, payload: unknown): unknown {
  if (!isSessionError(error) || error.status < 500 || typeof payload !== 'string') return payload;
  if (!payload.includes(error.message) && !payload.includes(JSON.stringify(error.message).slice(1, -1))) return payload;
  const text = STATUS_CODES[reply.statusCode] ?? 'Error';
  reply.header('content-type', 'application/json; charset=utf-8');
  return JSON.stringify({ statusCode: reply.statusCode, code: error.code, error: text, message: text });
}

/** A reply body that will not be sent: release what it holds (a file stream's descriptor). */
function discard(payload: unknown): void {
  const body = payload as { destroy?: () => void; cancel?: () => Promise<void> } | null;
  if (typeof body?.destroy === 'function') body.destroy();
  else if (typeof body?.cancel === 'function') body.cancel().catch(() => {});
}
