// The app the runtime checks (../runtimes.test.ts) serve on Bun, Deno and workerd.
import { Hono } from 'hono';
import { MemoryStore } from '@sess/core';
import { csrf, session } from '@sess/hono';

/** @param {import('@sess/core').Store} [store] */
export function createApp(store = new MemoryStore()) {
  const app = new Hono();
  app.use(session({ secret: 'a-test-secret-that-is-long-enough-0123456789', store, cookie: { secure: false } }));
  app.use('/form', csrf());
  app.get('/increment', (c) => c.json({ value: c.var.session.increment('n') }));
  app.get('/form', (c) => c.json({ token: c.var.csrfToken() }));
  app.post('/form', async (c) => c.json({ ok: true, name: (await c.req.parseBody()).name }));
  app.get('/signin', (c) => (c.var.session.regenerateId().put('user', 'ada'), c.redirect('/whoami')));
  app.get('/whoami', (c) => c.json({ user: c.var.session.get('user') ?? null }));
  app.get('/fail', (c) => {
    c.var.session.put('user', 'mallory');
    throw new Error('failed on purpose');
  });
  app.onError((err, c) => ('getResponse' in err ? err.getResponse() : c.text('Internal Server Error', 500)));
  return app;
}
