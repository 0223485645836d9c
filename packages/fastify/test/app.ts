import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type fastifyFactory from 'fastify';
import type { Store } from '@sess/core';
import type { ScenarioServer } from '@sess/test-utils';
import { csrf, session, type SessionPluginOptions } from '@sess/fastify';

export const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
export type Fastify = typeof fastifyFactory;

/**
 * The framework's redirect helper. `redirect(url, code)` is the order of
 * Fastify 5 and of 4.28+ (the lowest this package supports), where the old
 * `redirect(code, url)` is deprecated (FSTDEP021); Fastify 5 no longer takes it.
 */
export function redirect(reply: FastifyReply, url: string, code?: number): FastifyReply {
  return code === undefined ? reply.redirect(url) : reply.redirect(url, code);
}

/** Parses urlencoded bodies into request.body, as @fastify/formbody would. */
export function formBody(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
}

type Q = (name: string) => string | undefined;
const query = (request: FastifyRequest): Q => (name) => {
  const value = (request.query as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
};

/** An app implementing the routes of the adapter conformance suite (@sess/core/testing). */
export async function scenarioApp(fastify: Fastify, store: Store, options: Partial<SessionPluginOptions> = {}): Promise<FastifyInstance> {
  const app = fastify({ logger: false });
  formBody(app);
  await app.register(session, { secret: SECRET, store, cookie: { secure: false }, ...options } as SessionPluginOptions);
  const get = (path: string, handler: (request: FastifyRequest, reply: FastifyReply, q: Q) => unknown) =>
    app.get(path, (request, reply) => handler(request, reply, query(request)));

  get('/put', (request, _reply, q) => (request.session.put(q('key')!, q('value')), { ok: true }));
  get('/get', (request, _reply, q) => ({ value: request.session.get(q('key')!) ?? null, has: request.session.has(q('key')!) }));
  get('/remove', (request, _reply, q) => (request.session.remove(q('key')!), { ok: true }));
  get('/all', (request) => ({ all: request.session.all() }));
  get('/clear', (request) => (request.session.clear(), { ok: true }));
  get('/flash', (request, reply) => {
    for (const [key, value] of Object.entries(request.query as Record<string, string>)) request.session.flash(key, value);
    return redirect(reply, '/all');
  });
  get('/reflash', (request, _reply, q) => (request.session.reflash(q('keys')?.split(',')), { all: request.session.all() }));
  get('/now', (request, _reply, q) => (request.session.now(q('key')!, q('value')), { all: request.session.all() }));
  get('/increment', (request, _reply, q) => ({ value: request.session.increment(q('key')!, Number(q('by') ?? 1)) }));
  get('/tokens', (request, _reply, q) => ({ tokens: Array.from({ length: Number(q('count')) }, () => request.session.generateToken()) }));
  get('/validate', (request, _reply, q) => ({ valid: q('tokens')!.split(',').map((t) => request.session.validateToken(t)) }));
  get('/regenerate', (request, _reply, q) => (request.session.regenerateId(q('keep') === '1'), { ok: true }));
  get('/destroy', (request) => (request.session.destroy(), { ok: true }));
  get('/race', (request, reply, q) => (request.session.put('race', q('value')), redirect(reply, '/get?key=race')));
  // Fastify's usual way to fail after answering: an async handler that sent, then throws.
  app.get('/answer-then-fail', async (request, reply) => {
    request.session.put('thrown', 'yes');
    reply.send({ ok: true });
    throw new Error('failed after answering');
  });
  get('/redirect-with-cookie', (request, reply) => {
    request.session.put('via', 'head');
    return reply.code(302).header('location', '/get?key=via').header('set-cookie', 'theme=dark; Path=/').send();
  });
  get('/signin', (request, reply, q) => (request.session.regenerateId().put('user', q('user')), redirect(reply, '/get?key=user')));
  get('/signout', (request, reply) => (request.session.destroy(), redirect(reply, '/get?key=user')));
  get('/fail-after-change', (request) => {
    request.session.put('failed', 'yes');
    throw new Error('the handler failed');
  });
  await app.register(async (guarded) => {
    guarded.addHook('preHandler', csrf());
    guarded.get('/csrf/token', (_request, reply) => ({ token: reply.csrfToken() }));
    guarded.post('/csrf/submit', (request) => ({ submits: request.session.increment('submits') }));
  });
  return app;
}

export async function listen(app: FastifyInstance): Promise<ScenarioServer> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  };
}
