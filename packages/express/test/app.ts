import type { Server } from 'node:http';
import type { Express, NextFunction, Request, Response } from 'express';
import { SessionError, type Store } from '@sess/core';
import { listenOnLoopback, type ScenarioServer } from '@sess/test-utils';
import { csrf, session } from '@sess/express';

export const SECRET = 'a-test-secret-that-is-long-enough-0123456789';

type ExpressFactory = { (): Express; urlencoded(options: { extended: boolean }): any };

/** An app implementing the routes of the scenario suite (see test-utils/src/scenarios.ts). */
export function scenarioApp(express: ExpressFactory, store: Store | 'cookie'): Express {
  const app = express();
  app.use(session({ secret: SECRET, store, cookie: { secure: false } }));
  const q = (req: Request, name: string) => (typeof req.query[name] === 'string' ? (req.query[name] as string) : undefined);
  app.get('/put', (req, res) => void (req.session.put(q(req, 'key')!, q(req, 'value')), res.json({ ok: true })));
  app.get('/get', (req, res) => void res.json({ value: req.session.get(q(req, 'key')!) ?? null, has: req.session.has(q(req, 'key')!) }));
  app.get('/remove', (req, res) => void (req.session.remove(q(req, 'key')!), res.json({ ok: true })));
  app.get('/all', (req, res) => void res.json({ all: req.session.all() }));
  app.get('/clear', (req, res) => void (req.session.clear(), res.json({ ok: true })));
  app.get('/flash', (req, res) => {
    for (const [key, value] of Object.entries(req.query)) req.session.flash(key, value);
    res.redirect('/all');
  });
  app.get('/reflash', (req, res) => void (req.session.reflash(q(req, 'keys')?.split(',')), res.json({ all: req.session.all() })));
  app.get('/now', (req, res) => void (req.session.now(q(req, 'key')!, q(req, 'value')), res.json({ all: req.session.all() })));
  app.get('/increment', (req, res) => void res.json({ value: req.session.increment(q(req, 'key')!, Number(q(req, 'by') ?? 1)) }));
  app.get('/tokens', (req, res) => void res.json({ tokens: Array.from({ length: Number(q(req, 'count')) }, () => req.session.generateToken()) }));
  app.get('/validate', (req, res) => void res.json({ valid: q(req, 'tokens')!.split(',').map((t) => req.session.validateToken(t)) }));
  app.get('/regenerate', (req, res) => void (req.session.regenerateId(q(req, 'keep') === '1'), res.json({ ok: true })));
  app.get('/destroy', (req, res) => void (req.session.destroy(), res.json({ ok: true })));
  app.get('/race', (req, res) => void (req.session.put('race', q(req, 'value')), res.redirect('/get?key=race')));
  app.get('/answer-then-fail', (req) => {
    req.session.put('thrown', 'yes');
    req.res!.json({ ok: true });
    throw new Error('failed after answering');
  });
  app.get('/redirect-with-cookie', (req, res) => {
    req.session.put('via', 'head');
    res.writeHead(302, { Location: '/get?key=via', 'Set-Cookie': 'theme=dark; Path=/' }).end();
  });
  app.get('/signin', (req, res) => void (req.session.regenerateId().put('user', q(req, 'user')), res.redirect('/get?key=user')));
  app.get('/signout', (req, res) => void (req.session.destroy(), res.redirect('/get?key=user')));
  app.get('/fail-after-change', (req, _res, next) => void (req.session.put('failed', 'yes'), next(new Error('the handler failed'))));
  app.use('/csrf', express.urlencoded({ extended: false }), csrf());
  app.get('/csrf/token', (_req, res) => void res.json({ token: res.locals.csrfToken() }));
  app.post('/csrf/submit', (req, res) => void res.json({ submits: req.session.increment('submits') }));
  app.use(errorHandler);
  return app;
}

/** The error middleware most apps have: answers unless the response is already on its way. */
export function errorHandler(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) return next(err);
  const status = err instanceof SessionError ? err.status : 500;
  res.status(status).json({ error: status < 500 && err instanceof Error ? err.message : 'Something went wrong' });
}

export function listen(app: Express): Promise<ScenarioServer & { server: Server }> {
  return listenOnLoopback(app);
}
