import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { stream } from 'hono/streaming';
import { validator } from 'hono/validator';
import { ConfigError, CsrfError, MemoryStore, SessionManager, StoreError, type Session } from '@sess/core';
import { ControlledStore, HttpClient } from '@sess/test-utils';
import { csrf, session, type SessionEnv } from '@sess/hono';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { serve as serve2 } from 'hono-node-server-2';
import { cors } from 'hono/cors';
import { secureHeaders } from 'hono/secure-headers';
import { SECRET, listen } from './app.js';

const big = 'x'.repeat(300_000);

describe('hono session() and csrf()', () => {
  const store = new ControlledStore();
  const caught: unknown[] = [];
  let server: Awaited<ReturnType<typeof listen>>;
  let middleware: ReturnType<typeof session<{ how: string; visits: number }>>;

  beforeAll(async () => {
    type Env = SessionEnv<{ how: string; visits: number }>;
    const app = new Hono<Env>();
    middleware = session<{ how: string; visits: number }>({ secret: SECRET, store, cookie: { secure: false } });
    app.use(middleware);
    app.use(middleware); // mounted twice: loads once
    const put = (c: { var: Env['Variables']; req: { path: string } }) => c.var.session.put('how', c.req.path.slice(1));
    app.get('/how', (c) => c.json({ how: c.var.session.get('how') ?? null }));
    app.get('/json', (c) => (put(c), c.json({ ok: 1 })));
    app.get('/redirect', (c) => (put(c), c.redirect('/how')));
    app.get('/immutable', (c) => (put(c), Response.redirect(new URL('/how', c.req.url), 303)));
    app.get('/stream', (c) => {
      put(c);
      return stream(c, async (s) => {
        await s.write(big.slice(0, 150_000));
        await s.write(big.slice(150_000));
      });
    });
    app.get('/unauthorized', (c) => {
      put(c);
      throw new HTTPException(401, { message: 'sign in first' });
    });
    app.get('/five-hundred', (c) => (put(c), c.text('broken', 500)));
    app.get('/same', (c) => c.json({ same: c.get('session') === c.var.session }));
    const api = new Hono<Env>();
    api.get('/visits', (c) => c.json({ visits: c.var.session.increment('visits') }));
    app.route('/api', api);
    app.post('/guarded', csrf(), async (c) => c.json({ body: await c.req.parseBody() }));
    // A validator that reads the form before csrf(): the token comes from Hono's parsed-body cache.
    app.post('/validated', validator('form', (form) => form), csrf(), (c) => c.json({ form: c.req.valid('form') }));
    app.get('/guarded', csrf(), (c) => c.json({ token: c.var.csrfToken() }));
    // A page of the app's own for sess errors: the HTTPException carries the sess error as cause.
    app.onError((err, c) => {
      caught.push(err);
      if (err instanceof HTTPException && err.cause instanceof CsrfError) return c.html('<h1>Form refused</h1>', 403);
      return err instanceof HTTPException ? err.getResponse() : c.text('Internal Server Error', 500);
    });
    server = await listen(app);
    store.latencyMs = 10; // a slow store: a commit racing the response would lose
  });
  afterAll(() => server.close());

  it('types c.var.session and c.get("session") through SessionEnv<Data>', () => {
    const app = new Hono<SessionEnv<{ visits: number }>>();
    app.get('/', (c) => {
      expectTypeOf(c.var.session).toEqualTypeOf<Session<{ visits: number }>>();
      expectTypeOf(c.get('session').get('visits')).toEqualTypeOf<number | undefined>();
      expectTypeOf(c.var.csrfToken).toEqualTypeOf<() => string>();
      return c.text('');
    });
  });

  for (const path of ['/json', '/redirect', '/immutable', '/stream']) {
    it(`commits before the response of ${path} goes out, with one cookie`, async () => {
      const b = new HttpClient(server.baseUrl);
      const response = await b.get(path);
      expect(response.headers.getSetCookie()).toHaveLength(1);
      if (path === '/stream') expect(await response.text()).toBe(big);
      expect(await (await b.get('/how')).json()).toEqual({ how: path.slice(1) });
    });
  }

  it('rolls back a handler that threw (c.error), and Hono answers its HTTPException', async () => {
    const b = new HttpClient(server.baseUrl);
    await b.get('/json');
    const response = await b.get('/unauthorized');
    expect([response.status, await response.text()]).toEqual([401, 'sign in first']);
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(await (await b.get('/how')).json()).toEqual({ how: 'json' });
  });

  it('rolls back a 5xx response', async () => {
    const b = new HttpClient(server.baseUrl);
    await b.get('/json');
    expect((await b.get('/five-hundred')).status).toBe(500);
    expect(await (await b.get('/how')).json()).toEqual({ how: 'json' });
  });

  it('works in a sub-app mounted with app.route(), and mounted twice loads once', async () => {
    const b = new HttpClient(server.baseUrl);
    expect(await (await b.get('/api/visits')).json()).toEqual({ visits: 1 });
    expect(await (await b.get('/api/visits')).json()).toEqual({ visits: 2 });
    expect(await (await b.get('/same')).json()).toEqual({ same: true });
  });

  it('csrf(): a valid token passes once and the handler can still parse the body; a refusal reaches app.onError with the CsrfError as cause', async () => {
    const b = new HttpClient(server.baseUrl);
    const { token } = (await (await b.get('/guarded')).json()) as { token: string };
    const ok = await b.post('/guarded', { form: { _token: token, name: 'ada' } });
    expect(await ok.json()).toEqual({ body: { _token: token, name: 'ada' } });
    expect(ok.headers.get('vary')).toMatch(/Sec-Fetch-Site, Origin/);
    const replay = await b.post('/guarded', { form: { _token: token, name: 'eve' } });
    expect([replay.status, await replay.text()]).toEqual([403, '<h1>Form refused</h1>']);
    const err = caught.at(-1) as HTTPException;
    expect(err).toBeInstanceOf(HTTPException);
    expect(err.status).toBe(403);
    expect((err.cause as CsrfError).reason).toBe('invalid-token');
  });

  it('csrf() after a validator that read the form finds the token in Hono\'s body cache', async () => {
    const b = new HttpClient(server.baseUrl);
    const { token } = (await (await b.get('/guarded')).json()) as { token: string };
    const ok = await b.post('/validated', { form: { _token: token, name: 'ada' } });
    expect(await ok.json()).toEqual({ form: { _token: token, name: 'ada' } });
    expect((await b.post('/validated', { form: { _token: token, name: 'eve' } })).status).toBe(403);
  });

  it('a store failure at load and at commit answers 503 without detail, the handler\'s answer dropped', async () => {
    const returning = new HttpClient(server.baseUrl);
    await returning.get('/json');
    store.down = true;
    try {
      for (const [b, path] of [[returning, '/how'], [new HttpClient(server.baseUrl), '/redirect']] as const) {
        const response = await b.get(path);
        expect(response.status).toBe(503);
        expect(response.headers.get('location')).toBe(null);
        expect(response.headers.getSetCookie()).toEqual([]);
        expect(await response.text()).toBe('Service Unavailable');
        expect((caught.at(-1) as HTTPException).cause).toBeInstanceOf(StoreError);
      }
    } finally {
      store.down = false;
    }
  });

  it('exposes the manager it uses, and accepts a manager instead of options', () => {
    expect(middleware.manager).toBeInstanceOf(SessionManager);
    expect(middleware.manager.store).toBe(store);
    const manager = new SessionManager({ secret: SECRET, store, cookie: { secure: false } });
    expect(session(manager).manager).toBe(manager);
  });
});

describe('hono with its default error handler (no app.onError)', () => {
  const store = new ControlledStore();
  let server: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    const app = new Hono<SessionEnv>();
    app.use(session({ secret: SECRET, store, cookie: { secure: false }, csrf: true }));
    app.get('/', (c) => c.json({ visits: c.var.session.increment('visits') }));
    app.post('/', (c) => c.text('ran'));
    server = await listen(app);
  });
  afterAll(() => server.close());

  it('answers a refused CSRF check 403 with the reason, Vary included, and the handler does not run', async () => {
    const b = new HttpClient(server.baseUrl);
    await b.get('/');
    const response = await b.post('/', { form: { _token: 'forged' } });
    expect(response.status).toBe(403);
    expect(response.headers.get('vary')).toBe('Sec-Fetch-Site, Origin');
    expect(await response.text()).toMatch(/^\[sess\] CSRF token invalid/);
  });

  it('answers a store failure 503 with the status text only', async () => {
    const b = new HttpClient(server.baseUrl);
    await b.get('/');
    store.down = true;
    try {
      const response = await b.get('/');
      expect([response.status, await response.text()]).toEqual([503, 'Service Unavailable']);
    } finally {
      store.down = false;
    }
  });
});

describe('csrf() without session()', () => {
  it('throws a ConfigError that names the fix (Hono answers 500)', async () => {
    const app = new Hono();
    const errors: unknown[] = [];
    app.use(csrf());
    app.post('/', (c) => c.text('ran'));
    app.onError((err, c) => (errors.push(err), c.text('Internal Server Error', 500)));
    const response = await app.request('/', { method: 'POST' });
    expect(response.status).toBe(500);
    expect(errors[0]).toBeInstanceOf(ConfigError);
    expect((errors[0] as Error).message).toBe('[sess] csrf() found no session: add app.use(session({ secret, store })) before app.use(csrf()).');
  });

  it('app.request() works too (no server): a quick check in a unit test', async () => {
    const app = new Hono<SessionEnv>();
    app.use(session({ secret: SECRET, store: new MemoryStore(), cookie: { secure: false } }));
    app.get('/', (c) => c.json({ visits: c.var.session.increment('visits') }));
    const first = await app.request('/');
    const cookie = first.headers.getSetCookie()[0]!.split(';')[0]!;
    expect(await (await app.request('/', { headers: { cookie } })).json()).toEqual({ visits: 2 });
  });
});

describe.each([
  ['@hono/node-server 1', undefined],
  ['@hono/node-server 2', serve2],
] as const)('outer middleware that change the response after next(), on %s', (_name, serveWith) => {
  let server: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    const app = new Hono<SessionEnv>();
    // Registered before session(): each changes c.res after session() added the cookie.
    app.use(cors({ origin: 'http://127.0.0.1', credentials: true }));
    app.use(secureHeaders());
    app.use(async (c, next) => {
      await next();
      c.header('x-outer', '1');
    });
    app.use(session({ secret: SECRET, store: new MemoryStore(), cookie: { secure: false } }));
    app.get('/', (c) => c.json({ visits: c.var.session.increment('visits') }));
    app.get('/raw', (c) => {
      c.var.session.increment('visits');
      return new Response('raw', { headers: { 'content-type': 'text/plain' } });
    });
    server = await listen(app, serveWith);
  });
  afterAll(() => server.close());

  for (const path of ['/', '/raw']) {
    it(`keeps the session cookie of ${path} (cors, secureHeaders, c.header())`, async () => {
      const b = new HttpClient(server.baseUrl);
      const first = await b.get(path, { headers: { origin: 'http://127.0.0.1' } });
      expect(first.headers.get('x-outer')).toBe('1');
      expect(first.headers.get('access-control-allow-credentials')).toBe('true');
      expect(first.headers.get('x-content-type-options')).toBe('nosniff');
      expect(first.headers.getSetCookie()).toHaveLength(1);
      await b.get(path);
      expect(await (await b.get('/')).json()).toEqual({ visits: 3 });
    });
  }
});
