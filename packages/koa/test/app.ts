import type { Server } from 'node:http';
import type Koa from 'koa';
import type { Context, Middleware, Next } from 'koa';
import type { Store } from '@sess/core';
import { listenOnLoopback, type ScenarioServer } from '@sess/test-utils';
import { csrf, session } from '@sess/koa';

export const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
export type KoaClass = typeof Koa;

/** Parses urlencoded bodies into ctx.request.body, as @koa/bodyparser would. */
export const urlencoded: Middleware = async (ctx, next) => {
  if (ctx.is('application/x-www-form-urlencoded')) {
    let raw = '';
    for await (const chunk of ctx.req) raw += chunk;
    (ctx.request as { body?: unknown }).body = Object.fromEntries(new URLSearchParams(raw));
  }
  await next();
};

type Route = (ctx: Context, q: (name: string) => string | undefined) => void;

/** An app implementing the routes of the scenario suite (see test-utils/src/scenarios.ts). */
export function scenarioApp(KoaLib: KoaClass, store: Store): Koa {
  const app = new KoaLib();
  app.silent = true; // refused CSRF tokens and store failures are expected here
  const guarded = csrf();
  const routes: Record<string, Route> = {
    'GET /put': (ctx, q) => void (ctx.session.put(q('key')!, q('value')), (ctx.body = { ok: true })),
    'GET /get': (ctx, q) => void (ctx.body = { value: ctx.session.get(q('key')!) ?? null, has: ctx.session.has(q('key')!) }),
    'GET /remove': (ctx, q) => void (ctx.session.remove(q('key')!), (ctx.body = { ok: true })),
    'GET /all': (ctx) => void (ctx.body = { all: ctx.session.all() }),
    'GET /clear': (ctx) => void (ctx.session.clear(), (ctx.body = { ok: true })),
    'GET /flash': (ctx) => {
      for (const [key, value] of Object.entries(ctx.query)) ctx.session.flash(key, value);
      ctx.redirect('/all');
    },
    'GET /reflash': (ctx, q) => void (ctx.session.reflash(q('keys')?.split(',')), (ctx.body = { all: ctx.session.all() })),
    'GET /now': (ctx, q) => void (ctx.session.now(q('key')!, q('value')), (ctx.body = { all: ctx.session.all() })),
    'GET /increment': (ctx, q) => void (ctx.body = { value: ctx.session.increment(q('key')!, Number(q('by') ?? 1)) }),
    'GET /tokens': (ctx, q) => void (ctx.body = { tokens: Array.from({ length: Number(q('count')) }, () => ctx.session.generateToken()) }),
    'GET /validate': (ctx, q) => void (ctx.body = { valid: q('tokens')!.split(',').map((t) => ctx.session.validateToken(t)) }),
    'GET /regenerate': (ctx, q) => void (ctx.session.regenerateId(q('keep') === '1'), (ctx.body = { ok: true })),
    'GET /destroy': (ctx) => void (ctx.session.destroy(), (ctx.body = { ok: true })),
    'GET /race': (ctx, q) => void (ctx.session.put('race', q('value')), ctx.redirect('/get?key=race')),
    'GET /answer-then-fail': (ctx) => {
      ctx.session.put('thrown', 'yes');
      ctx.body = { ok: true };
      throw new Error('failed after answering');
    },
    'GET /redirect-with-cookie': (ctx) => {
      ctx.session.put('via', 'head');
      ctx.status = 302;
      ctx.set({ Location: '/get?key=via', 'Set-Cookie': 'theme=dark; Path=/' });
    },
    'GET /signin': (ctx, q) => void (ctx.session.regenerateId().put('user', q('user')), ctx.redirect('/get?key=user')),
    'GET /signout': (ctx) => void (ctx.session.destroy(), ctx.redirect('/get?key=user')),
    'GET /fail-after-change': (ctx) => {
      ctx.session.put('failed', 'yes');
      throw new Error('the handler failed');
    },
    'GET /csrf/token': (ctx) => void (ctx.body = { token: ctx.state.csrfToken() }),
    'POST /csrf/submit': (ctx) => void (ctx.body = { submits: ctx.session.increment('submits') }),
  };
  app.use(session({ secret: SECRET, store, cookie: { secure: false } }));
  app.use((ctx: Context, next: Next) => (ctx.path.startsWith('/csrf/') ? urlencoded(ctx, () => guarded(ctx, next)) : next()));
  app.use((ctx: Context) => {
    const route = routes[`${ctx.method} ${ctx.path}`];
    if (!route) return void (ctx.status = 404);
    route(ctx, (name) => (typeof ctx.query[name] === 'string' ? (ctx.query[name] as string) : undefined));
  });
  return app;
}

export function listen(app: Koa): Promise<ScenarioServer & { server: Server }> {
  return listenOnLoopback(app);
}
