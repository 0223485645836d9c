/**
 * Store calls per request through @sess/koa (the README's table): one test
 * per row, over real HTTP, on Koa 2 and 3. See
 * packages/test-utils/src/store-economy.ts for the routes and the rows.
 */
import koa2 from 'koa2';
import koa3 from 'koa3';
import type Koa from 'koa';
import type { Middleware } from 'koa';
import { listenOnLoopback, testStoreEconomy, type EconomySessionOptions } from '@sess/test-utils';
import { session } from '@sess/koa';

type KoaClass = new () => Koa;

/** A urlencoded body parser (what @koa/bodyparser does for a form), before the session. */
const formBody: Middleware = async (ctx, next) => {
  if (ctx.method === 'POST' && ctx.is('application/x-www-form-urlencoded')) {
    let text = '';
    for await (const chunk of ctx.req) text += chunk;
    (ctx.request as { body?: unknown }).body = Object.fromEntries(new URLSearchParams(text));
  }
  await next();
};

function economyApp(KoaApp: KoaClass, options: EconomySessionOptions): Koa {
  const app = new KoaApp();
  app.silent = true;
  app.use(formBody);
  app.use(session(options));
  app.use((ctx) => {
    const s = ctx.session;
    switch (`${ctx.method} ${ctx.path}`) {
      case 'GET /read':
        ctx.body = { n: s.get('n') ?? null };
        return;
      case 'GET /look':
        s.get('n');
        s.has('n');
        s.all();
        s.flash('notice');
        ctx.body = { ok: true };
        return;
      case 'GET /write':
        ctx.body = { n: s.increment('n') };
        return;
      case 'GET /flash':
        s.flash('notice', 'Saved');
        ctx.redirect('/show');
        return;
      case 'GET /show':
        ctx.body = { notice: s.flash('notice') ?? null };
        return;
      case 'GET /form':
        ctx.body = { token: ctx.state.csrfToken() };
        return;
      case 'POST /submit':
        ctx.body = { ok: true };
        return;
      case 'POST /submit-change':
        ctx.body = { submits: s.increment('submits') };
        return;
      case 'GET /signin':
        s.regenerateId().put('user', 'ada');
        ctx.body = { ok: true };
        return;
    }
  });
  return app;
}

for (const [name, KoaApp] of [
  ['koa 2', koa2],
  ['koa 3', koa3],
] as const) {
  testStoreEconomy({
    name: `@sess/koa on ${name} (MemoryStore)`,
    start: (options) => listenOnLoopback(economyApp(KoaApp as unknown as KoaClass, options)),
  });
}
