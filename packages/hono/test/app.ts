import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { Hono as HonoClass } from 'hono';
import type { Store } from '@sess/core';
import type { ScenarioServer } from '@sess/test-utils';
import { csrf, session, type SessionEnv } from '@sess/hono';

export const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
export type HonoConstructor = typeof HonoClass;

/**
 * An app implementing the routes of the adapter conformance suite (see
 * @sess/core/testing). `csrfMode`: the /csrf/ routes behind `csrf()`, or
 * behind `session({ csrf: true })` (the token used in the load's store write).
 */
export function scenarioApp(Hono: HonoConstructor, store: Store, csrfMode: 'middleware' | 'option' = 'middleware', commitOnError = false) {
  const app = new Hono<SessionEnv>();
  const options = { secret: SECRET, store, cookie: { secure: false }, commitOnError };
  const plain = session(options);
  if (csrfMode === 'middleware') {
    app.use(plain);
    app.use('/csrf/*', csrf());
  } else {
    const guarded = session(plain.manager, { csrf: true, commitOnError });
    app.use((c, next) => (c.req.path.startsWith('/csrf/') ? guarded(c, next) : plain(c, next)));
  }
  const q = (c: { req: { query(name: string): string | undefined } }, name: string) => c.req.query(name);
  app.get('/put', (c) => (c.var.session.put(q(c, 'key')!, q(c, 'value')), c.json({ ok: true })));
  app.get('/get', (c) => c.json({ value: c.var.session.get(q(c, 'key')!) ?? null, has: c.var.session.has(q(c, 'key')!) }));
  app.get('/remove', (c) => (c.var.session.remove(q(c, 'key')!), c.json({ ok: true })));
  app.get('/all', (c) => c.json({ all: c.var.session.all() }));
  app.get('/clear', (c) => (c.var.session.clear(), c.json({ ok: true })));
  app.get('/flash', (c) => {
    for (const [key, value] of Object.entries(c.req.query())) c.var.session.flash(key, value);
    return c.redirect('/all');
  });
  app.get('/reflash', (c) => (c.var.session.reflash(q(c, 'keys')?.split(',')), c.json({ all: c.var.session.all() })));
  app.get('/now', (c) => (c.var.session.now(q(c, 'key')!, q(c, 'value')), c.json({ all: c.var.session.all() })));
  app.get('/increment', (c) => c.json({ value: c.var.session.increment(q(c, 'key')!, Number(q(c, 'by') ?? 1)) }));
  app.get('/tokens', (c) => c.json({ tokens: Array.from({ length: Number(q(c, 'count')) }, () => c.var.session.generateToken()) }));
  app.get('/validate', (c) => c.json({ valid: q(c, 'tokens')!.split(',').map((t) => c.var.session.validateToken(t)) }));
  app.get('/regenerate', (c) => (c.var.session.regenerateId(q(c, 'keep') === '1'), c.json({ ok: true })));
  app.get('/destroy', (c) => (c.var.session.destroy(), c.json({ ok: true })));
  app.get('/race', (c) => (c.var.session.put('race', q(c, 'value')), c.redirect('/get?key=race')));
  // Hono's way to fail after the answer: a route middleware that throws once the handler answered.
  app.get(
    '/answer-then-fail',
    async (_c, next) => {
      await next();
      throw new Error('failed after answering');
    },
    (c) => (c.var.session.put('thrown', 'yes'), c.json({ ok: true })),
  );
  app.get('/redirect-with-cookie', (c) => {
    c.var.session.put('via', 'head');
    return c.body(null, 302, { Location: '/get?key=via', 'Set-Cookie': 'theme=dark; Path=/' });
  });
  app.get('/signin', (c) => (c.var.session.regenerateId().put('user', q(c, 'user')), c.redirect('/get?key=user')));
  app.get('/signout', (c) => (c.var.session.destroy(), c.redirect('/get?key=user')));
  app.get('/fail-after-change', (c) => {
    c.var.session.put('failed', 'yes');
    throw new Error('the handler failed');
  });
  app.get('/csrf/token', (c) => c.json({ token: c.var.csrfToken() }));
  app.post('/csrf/submit', (c) => c.json({ submits: c.var.session.increment('submits') }));
  // The error handler a Hono app usually has: HTTPException answers its own response, the rest 500.
  app.onError((err, c) => ('getResponse' in err ? (err as { getResponse(): Response }).getResponse() : c.text('Internal Server Error', 500)));
  return app;
}

/** Serves a Hono app on 127.0.0.1 through @hono/node-server (1.x unless another major's `serve` is given). */
export function listen(app: { fetch: (request: Request) => Response | Promise<Response> }, serveWith: typeof serve = serve): Promise<ScenarioServer & { server: Server }> {
  return new Promise((resolve) => {
    const server = serveWith({ fetch: app.fetch as (request: Request) => Promise<Response>, port: 0, hostname: '127.0.0.1' }, (info) => {
      resolve({
        server: server as Server,
        baseUrl: `http://127.0.0.1:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            (server as Server).closeAllConnections();
            server.close(() => done());
          }),
      });
    }) as Server;
  });
}
