/**
 * Store calls per request through @sess/fetch (the table in @sess/core's
 * README): one test per row, over real HTTP, a plain Fetch handler served by
 * @hono/node-server. See packages/test-utils/src/store-economy.ts.
 */
import { testStoreEconomy, type EconomySessionOptions } from '@sess/test-utils';
import { createSessions, type Session } from '@sess/fetch';
import { serveWithNodeServer } from './app.js';

function economyHandler(options: EconomySessionOptions) {
  const sessions = createSessions(options);
  const json = (value: unknown) => Response.json(value);
  const routes: Record<string, (s: Session, csrfToken: () => string) => Response> = {
    'GET /read': (s) => json({ n: s.get('n') ?? null }),
    'GET /look': (s) => (s.get('n'), s.has('n'), s.all(), s.flash('notice'), json({ ok: true })),
    'GET /write': (s) => json({ n: s.increment('n') }),
    'GET /flash': (s) => (s.flash('notice', 'Saved'), new Response(null, { status: 302, headers: { location: '/show' } })),
    'GET /show': (s) => json({ notice: s.flash('notice') ?? null }),
    'GET /form': (_s, csrfToken) => json({ token: csrfToken() }),
    'POST /submit': () => json({ ok: true }),
    'POST /submit-change': (s) => json({ submits: s.increment('submits') }),
    'GET /signin': (s) => (s.regenerateId().put('user', 'ada'), json({ ok: true })),
  };
  return (request: Request) => {
    const route = routes[`${request.method} ${new URL(request.url).pathname}`];
    if (!route) return Promise.resolve(new Response('Not Found', { status: 404 }));
    return sessions.handle(request, (session, { csrfToken }) => route(session, csrfToken));
  };
}

testStoreEconomy({ name: '@sess/fetch, a plain handler on @hono/node-server (MemoryStore)', start: (options) => serveWithNodeServer(economyHandler(options)) });
