/**
 * The two apps of a migration: the old one on the real express-session (with
 * connect-flash), and the same app switched to sess with the migrator in
 * front. Both on real HTTP over loopback.
 */
import express from 'express';
import expressSession from 'express-session';
import flash from 'connect-flash';
import type { Session, SessionManager, Store } from '@sess/core';
import { session } from '@sess/express';
import { HttpClient, listenOnLoopback, type LoopbackServer } from '@sess/test-utils';
import { ExpressSessionMigrator, migrationMiddleware, type MigrationResult, type OldSessionSource } from '@sess/migrate-express-session';

export const OLD_SECRET = 'the express-session secret of the old app';
export const NEW_SECRET = 'the sess secret of the new app, 32 bytes or more';
/** The old app's cookie lifetime: 20 minutes (ms). */
export const OLD_MAX_AGE = 20 * 60 * 1000;

declare module 'express-session' {
  interface SessionData {
    userId: string;
    cart: string[];
    visits: number;
    profile: { name: string; since: string };
  }
}

/** The app before the switch: express-session on `store`, connect-flash, a cookie of 20 minutes. */
export async function startOldApp(store: expressSession.Store): Promise<LoopbackServer> {
  const app = express();
  app.use(expressSession({ secret: OLD_SECRET, store, resave: false, saveUninitialized: false, cookie: { maxAge: OLD_MAX_AGE } }));
  app.use(flash());
  app.post('/login', (req, res, next) => {
    const user = String(req.query.user);
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.userId = user;
      req.session.cart = ['sku-1', `sku-${user}`];
      req.session.visits = 1;
      req.session.profile = { name: user.toUpperCase(), since: '2024-01-01' };
      res.json({ ok: true });
    });
  });
  app.post('/flash', (req, res) => {
    req.flash('info', 'welcome back');
    req.flash('info', 'your cart was kept');
    res.json({ ok: true });
  });
  app.get('/me', (req, res) => void res.json({ userId: req.session.userId ?? null, cart: req.session.cart ?? null, visits: req.session.visits ?? null }));
  return listenOnLoopback(app);
}

export interface NewApp extends LoopbackServer {
  manager: SessionManager;
  migrator: ExpressSessionMigrator;
  results: MigrationResult[];
}

/** The app after the switch: the migrator before `session()` of @sess/express, on `store`. */
export async function startNewApp(store: Store, source: OldSessionSource, extra: { handoverWindow?: number } = {}): Promise<NewApp> {
  const app = express();
  const sessions = session({ secret: NEW_SECRET, store, cookie: { secure: false }, idleTimeout: 1800, absoluteTimeout: 8 * 3600 });
  const migrator = new ExpressSessionMigrator({
    manager: sessions.manager,
    secret: ['a newer old secret nobody used', OLD_SECRET],
    source,
    user: (data) => (typeof data.userId === 'string' ? data.userId : null),
    ...extra,
  });
  const results: MigrationResult[] = [];
  app.use(migrationMiddleware(migrator, { onResult: (result) => results.push(result) }), sessions);
  // Both apps live in this one program, so @types/express-session's
  // req.session and @sess/express's merge: name the sess one (an app that
  // switched has removed express-session and its types).
  const sessOf = (req: express.Request) => req.session as unknown as Session;
  app.get('/me', (req, res) => {
    const s = sessOf(req);
    res.json({ userId: s.get('userId') ?? null, cart: s.get('cart') ?? null, visits: s.get('visits') ?? null, profile: s.get('profile') ?? null, flash: s.flash('info') ?? null, user: s.user, expiresAt: s.expiresAt });
  });
  app.get('/visit', (req, res) => void res.json({ visits: sessOf(req).increment('visits') }));
  app.post('/logout', (req, res) => void (sessOf(req).destroy(), res.json({ ok: true })));
  const server = await listenOnLoopback(app);
  return Object.assign(server, { manager: sessions.manager, migrator, results });
}

/** The express-session id in a client's `connect.sid` cookie. */
export function oldIdOf(client: HttpClient): string {
  const value = decodeURIComponent(client.cookies.get('connect.sid') ?? '');
  if (!value.startsWith('s:')) throw new Error('no connect.sid cookie');
  return value.slice(2, value.lastIndexOf('.'));
}

/** The sess id in a client's `sess` cookie. */
export function sessIdOf(client: HttpClient): string | undefined {
  return client.cookies.get('sess')?.slice(0, 43);
}

/** Counts the calls of a source's `claim` (to show a forged cookie never reads the old store). */
export function counting(source: OldSessionSource): OldSessionSource & { claims: number } {
  const counted = {
    kind: source.kind,
    claims: 0,
    claim(id: string) {
      counted.claims += 1;
      return source.claim(id);
    },
    restore: source.restore?.bind(source),
  };
  return counted;
}

export async function json(response: Response): Promise<any> {
  if (response.status !== 200) throw new Error(`status ${response.status}: ${await response.text()}`);
  return response.json();
}
