import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { serve } from '@hono/node-server';
import type { Store } from '@sess/core';
import type { ScenarioServer } from '@sess/test-utils';
import { createSessions, type Session } from '@sess/fetch';

export const SECRET = 'a-test-secret-that-is-long-enough-0123456789';

/** A `(request) => Response` handler, as `Bun.serve({ fetch })` and `Deno.serve()` take. */
export type FetchHandler = (request: Request) => Promise<Response>;

type Route = (session: Session, q: (name: string) => string | undefined, request: Request) => Response | Promise<Response>;

/** The routes of the adapter conformance suite as one plain Fetch handler (see @sess/core/testing). */
export function scenarioHandler(store: Store, { commitOnError = false } = {}): FetchHandler {
  const sessions = createSessions({ secret: SECRET, store, cookie: { secure: false }, commitOnError });
  // The /csrf/ routes check CSRF in the load's store write: a second instance on the same manager.
  const guarded = createSessions(sessions.manager, { csrf: true });
  const json = (value: unknown) => Response.json(value);
  const routes: Record<string, Route> = {
    'GET /put': (s, q) => (s.put(q('key')!, q('value')), json({ ok: true })),
    'GET /get': (s, q) => json({ value: s.get(q('key')!) ?? null, has: s.has(q('key')!) }),
    'GET /remove': (s, q) => (s.remove(q('key')!), json({ ok: true })),
    'GET /all': (s) => json({ all: s.all() }),
    'GET /clear': (s) => (s.clear(), json({ ok: true })),
    'GET /flash': (s, _q, request) => {
      for (const [key, value] of new URL(request.url).searchParams) s.flash(key, value);
      return new Response(null, { status: 302, headers: { location: '/all' } });
    },
    'GET /reflash': (s, q) => (s.reflash(q('keys')?.split(',')), json({ all: s.all() })),
    'GET /now': (s, q) => (s.now(q('key')!, q('value')), json({ all: s.all() })),
    'GET /increment': (s, q) => json({ value: s.increment(q('key')!, Number(q('by') ?? 1)) }),
    'GET /tokens': (s, q) => json({ tokens: Array.from({ length: Number(q('count')) }, () => s.generateToken()) }),
    'GET /validate': (s, q) => json({ valid: q('tokens')!.split(',').map((t) => s.validateToken(t)) }),
    'GET /regenerate': (s, q) => (s.regenerateId(q('keep') === '1'), json({ ok: true })),
    'GET /destroy': (s) => (s.destroy(), json({ ok: true })),
    'GET /race': (s, q) => (s.put('race', q('value')), new Response(null, { status: 302, headers: { location: '/get?key=race' } })),
    // A Fetch handler cannot answer and then fail: it returns or throws. This one throws after building its answer.
    'GET /answer-then-fail': (s) => {
      s.put('thrown', 'yes');
      json({ ok: true });
      throw new Error('failed after answering');
    },
    'GET /redirect-with-cookie': (s) => {
      s.put('via', 'head');
      return new Response(null, { status: 302, headers: [['location', '/get?key=via'], ['set-cookie', 'theme=dark; Path=/']] });
    },
    // Response.redirect() has immutable headers: finish() answers a copy with the cookie.
    'GET /signin': (s, q, request) => (s.regenerateId().put('user', q('user')), Response.redirect(new URL('/get?key=user', request.url), 302)),
    'GET /signout': (s, _q, request) => (s.destroy(), Response.redirect(new URL('/get?key=user', request.url), 302)),
    'GET /fail-after-change': (s) => {
      s.put('failed', 'yes');
      throw new Error('the handler failed');
    },
  };
  const csrfRoutes: Record<string, (active: Awaited<ReturnType<typeof guarded.begin>>) => Response> = {
    'GET /csrf/token': (active) => json({ token: active.csrfToken() }),
    'POST /csrf/submit': (active) => json({ submits: active.session.increment('submits') }),
  };
  return async (request) => {
    const url = new URL(request.url);
    const key = `${request.method} ${url.pathname}`;
    const q = (name: string) => url.searchParams.get(name) ?? undefined;
    const csrfRoute = csrfRoutes[key];
    if (csrfRoute) return guarded.handle(request, (_session, active) => csrfRoute(active));
    const route = routes[key];
    if (!route) return new Response('Not Found', { status: 404 });
    return sessions.handle(request, (session) => route(session, q, request));
  };
}

/** What a runtime does with a handler that throws (`Bun.serve`'s default `error`, `Deno.serve`'s `onError`): a bare 500. */
export function withServerErrors(handler: FetchHandler): FetchHandler {
  return async (request) => {
    try {
      return await handler(request);
    } catch {
      return new Response('Internal Server Error', { status: 500 });
    }
  };
}

/** Serves a Fetch handler on 127.0.0.1 through @hono/node-server (what Hono, and many Fetch apps, use on Node). */
export function serveWithNodeServer(handler: FetchHandler): Promise<ScenarioServer> {
  return new Promise((resolve) => {
    const server = serve({ fetch: withServerErrors(handler), port: 0, hostname: '127.0.0.1' }, (info) => {
      resolve({
        baseUrl: `http://127.0.0.1:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            (server as import('node:http').Server).closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/** A tiny Node adapter of our own: node:http request → Fetch Request → handler → Response → node:http response. */
export async function serveWithNodeHttp(handler: FetchHandler): Promise<ScenarioServer> {
  const app = withServerErrors(handler);
  const server = createServer(async (req, res) => {
    const response = await app(toRequest(req));
    const headers: Array<[string, string]> = [];
    response.headers.forEach((value, name) => name !== 'set-cookie' && headers.push([name, value]));
    for (const cookie of response.headers.getSetCookie()) headers.push(['set-cookie', cookie]);
    res.writeHead(response.status, headers.flat());
    if (response.body) for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) res.write(chunk);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

function toRequest(req: IncomingMessage): Request {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  return new Request(`http://${req.headers.host}${req.url}`, {
    method: req.method,
    headers,
    body: hasBody ? (Readable.toWeb(req) as ReadableStream) : undefined,
    ...(hasBody ? { duplex: 'half' } : {}),
  } as RequestInit);
}
