/**
 * Store calls per request through @sess/express (the README's table): one
 * test per row, over real HTTP, on Express 4 and 5. See
 * packages/test-utils/src/store-economy.ts for the routes and the rows.
 */
import express4 from 'express4';
import express5 from 'express5';
import type { Express } from 'express';
import { listenOnLoopback, testStoreEconomy, type EconomySessionOptions } from '@sess/test-utils';
import { session } from '@sess/express';

type ExpressFactory = { (): Express; urlencoded(options: { extended: boolean }): any };

function economyApp(express: ExpressFactory, options: EconomySessionOptions): Express {
  const app = express();
  // The body first: under the lifecycle's csrf the token is used in the load's store write.
  app.use(express.urlencoded({ extended: false }), session(options));
  app.get('/read', (req, res) => void res.json({ n: req.session.get('n') ?? null }));
  app.get('/look', (req, res) => {
    req.session.get('n');
    req.session.has('n');
    req.session.all();
    req.session.flash('notice');
    res.json({ ok: true });
  });
  app.get('/write', (req, res) => void res.json({ n: req.session.increment('n') }));
  app.get('/flash', (req, res) => void (req.session.flash('notice', 'Saved'), res.redirect('/show')));
  app.get('/show', (req, res) => void res.json({ notice: req.session.flash('notice') ?? null }));
  app.get('/form', (_req, res) => void res.json({ token: res.locals.csrfToken() }));
  app.post('/submit', (_req, res) => void res.json({ ok: true }));
  app.post('/submit-change', (req, res) => void res.json({ submits: req.session.increment('submits') }));
  app.get('/signin', (req, res) => void (req.session.regenerateId().put('user', 'ada'), res.json({ ok: true })));
  app.use((err: { status?: number }, _req: unknown, res: { status(n: number): { end(): void } }, _next: unknown) => res.status(err.status ?? 500).end());
  return app;
}

for (const [name, express] of [
  ['express 4', express4],
  ['express 5', express5],
] as const) {
  testStoreEconomy({
    name: `@sess/express on ${name} (MemoryStore)`,
    start: (options) => listenOnLoopback(economyApp(express as unknown as ExpressFactory, options)),
  });
}
