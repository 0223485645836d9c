/**
 * Store calls per request through @sess/hono (the table in @sess/core's
 * README): one test per row, over real HTTP through @hono/node-server, on Hono
 * 4.6 and the newest 4.x. See packages/test-utils/src/store-economy.ts.
 */
import { Hono as honoLowest } from 'hono-lowest';
import { Hono as honoLatest } from 'hono-latest';
import { testStoreEconomy, type EconomySessionOptions } from '@sess/test-utils';
import { session, type SessionEnv } from '@sess/hono';
import { listen, type HonoConstructor } from './app.js';

function economyApp(Hono: HonoConstructor, options: EconomySessionOptions) {
  const app = new Hono<SessionEnv>();
  // session({ csrf: true }): the form's token is read from a clone of the request and used in the load's store write.
  app.use(session(options));
  app.get('/read', (c) => c.json({ n: c.var.session.get('n') ?? null }));
  app.get('/look', (c) => {
    const s = c.var.session;
    s.get('n');
    s.has('n');
    s.all();
    s.flash('notice');
    return c.json({ ok: true });
  });
  app.get('/write', (c) => c.json({ n: c.var.session.increment('n') }));
  app.get('/flash', (c) => (c.var.session.flash('notice', 'Saved'), c.redirect('/show')));
  app.get('/show', (c) => c.json({ notice: c.var.session.flash('notice') ?? null }));
  app.get('/form', (c) => c.json({ token: c.var.csrfToken() }));
  app.post('/submit', (c) => c.json({ ok: true }));
  app.post('/submit-change', (c) => c.json({ submits: c.var.session.increment('submits') }));
  app.get('/signin', (c) => (c.var.session.regenerateId().put('user', 'ada'), c.json({ ok: true })));
  return app;
}

for (const [name, Hono] of [
  ['hono 4.6', honoLowest],
  ['hono 4 (newest)', honoLatest],
] as const) {
  testStoreEconomy({ name: `@sess/hono on ${name} (MemoryStore)`, start: (options) => listen(economyApp(Hono, options)) });
}
