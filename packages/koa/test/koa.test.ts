import { Readable } from 'node:stream';
import koa2 from 'koa2';
import koa3 from 'koa3';
import type { Context, Next } from 'koa';
import { ConfigError, CsrfError, SessionManager, StoreError } from '@sess/core';
import { ControlledStore, HttpClient } from '@sess/test-utils';
import { csrf, session } from '@sess/koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET, listen, urlencoded } from './app.js';

const big = 'x'.repeat(1024 * 1024);

describe.each([
  ['koa 2', koa2],
  ['koa 3', koa3],
] as const)('%s', (_name, Koa) => {
  const store = new ControlledStore();
  const errors: unknown[] = [];
  let server: Awaited<ReturnType<typeof listen>>;
  let middleware: ReturnType<typeof session>;

  beforeAll(async () => {
    const app = new Koa();
    app.silent = true;
    app.on('error', (err) => errors.push(err));
    middleware = session({ secret: SECRET, store, cookie: { secure: false } });
    app.use(middleware);
    // An error middleware after session(): its flash message is committed.
    app.use(async (ctx: Context, next: Next) => {
      try {
        await next();
      } catch (err) {
        if (ctx.path !== '/handled') throw err;
        ctx.session.flash('error', (err as Error).message);
        ctx.redirect('/how');
      }
    });
    const put = (ctx: Context) => ctx.session.put('how', ctx.path.slice(1));
    const routes: Record<string, (ctx: Context) => unknown> = {
      '/body': (ctx) => void (put(ctx), (ctx.body = 'sent')),
      '/json': (ctx) => void (put(ctx), (ctx.body = { ok: 1 })),
      '/redirect': (ctx) => void (put(ctx), ctx.redirect('/how')),
      '/stream': (ctx) => void (put(ctx), (ctx.type = 'text'), (ctx.body = Readable.from([big.slice(0, 500_000), big.slice(500_000)]))),
      '/empty': (ctx) => void (put(ctx), (ctx.status = 204)),
      '/throw': (ctx) => {
        put(ctx);
        ctx.throw(400, 'bad input');
      },
      '/handled': (ctx) => {
        put(ctx);
        throw new Error('went wrong');
      },
      '/how': (ctx) => void (ctx.body = { how: ctx.session.get('how') ?? null, error: ctx.session.get('error') ?? null }),
      '/raw': async (ctx) => {
        put(ctx);
        const cookie = await middleware.manager.commit(ctx.session as any);
        ctx.respond = false;
        if (cookie) ctx.res.setHeader('Set-Cookie', cookie);
        ctx.res.end('raw');
      },
      '/state': (ctx) => void (ctx.body = { same: ctx.state.session === ctx.session }),
    };
    app.use(async (ctx: Context, next: Next) => (ctx.path === '/guarded' ? urlencoded(ctx, () => csrf()(ctx, next)) : next()));
    app.use(async (ctx: Context) => {
      if (ctx.path === '/guarded') return void (ctx.body = 'ran');
      await routes[ctx.path]?.(ctx);
    });
    server = await listen(app);
    store.latencyMs = 15; // a slow store: a commit racing the response would lose
  });
  afterAll(() => server.close());

  for (const [path, body] of [
    ['/body', 'sent'],
    ['/json', '{"ok":1}'],
    ['/redirect', undefined],
    ['/stream', big],
    ['/empty', ''],
  ] as const) {
    it(`commits before the response of ${path} goes out`, async () => {
      const b = new HttpClient(server.baseUrl);
      const response = await b.get(path);
      expect(response.headers.getSetCookie()).toHaveLength(1);
      if (body !== undefined) expect(await response.text()).toBe(body);
      expect(await (await b.get('/how')).json()).toEqual({ how: path.slice(1), error: null });
    });
  }

  it('drops the changes of a handler that throws past session()', async () => {
    const b = new HttpClient(server.baseUrl);
    await b.get('/json');
    const response = await b.get('/throw');
    expect(response.status).toBe(400);
    expect(await response.text()).toBe('bad input');
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(await (await b.get('/how')).json()).toEqual({ how: 'json', error: null });
  });

  it('commits what an error middleware after session() does with the error', async () => {
    const b = new HttpClient(server.baseUrl);
    const response = await b.get('/handled');
    expect(response.status).toBe(302);
    expect(await (await b.get('/how')).json()).toEqual({ how: 'handled', error: 'went wrong' });
  });

  it('lets an app with ctx.respond = false commit itself, without a second cookie or an error', async () => {
    const b = new HttpClient(server.baseUrl);
    const before = errors.length;
    const response = await b.get('/raw');
    expect(await response.text()).toBe('raw');
    expect(response.headers.getSetCookie()).toHaveLength(1);
    expect(await (await b.get('/how')).json()).toEqual({ how: 'raw', error: null });
    expect(errors.length).toBe(before);
  });

  it('sets ctx.state.session to ctx.session', async () => {
    expect(await (await new HttpClient(server.baseUrl).get('/state')).json()).toEqual({ same: true });
  });

  it('throws a StoreError (503) when the store fails at load', async () => {
    const b = new HttpClient(server.baseUrl);
    await b.get('/json');
    store.down = true;
    try {
      const response = await b.get('/how');
      expect(response.status).toBe(503);
      expect(errors.at(-1)).toBeInstanceOf(StoreError);
      expect((errors.at(-1) as Error).message).toMatch(/^\[sess\] the session store failed to read the session/);
    } finally {
      store.down = false;
    }
  });

  it('answers 503 instead of a streamed body when the commit fails', async () => {
    const b = new HttpClient(server.baseUrl);
    store.down = true; // a new session: nothing read at load, the write at commit fails
    try {
      const response = await b.get('/stream');
      expect(response.status).toBe(503);
      expect(await response.text()).toBe('Service Unavailable');
      expect(response.headers.getSetCookie()).toEqual([]);
    } finally {
      store.down = false;
    }
  });

  it('throws the CsrfError (403) and the rest of the app does not run', async () => {
    const response = await new HttpClient(server.baseUrl).post('/guarded', { form: { _token: 'nope' } });
    expect(response.status).toBe(403);
    expect(await response.text()).toMatch(/^\[sess\] CSRF token/); // 4xx sess errors are exposed (SessionError.expose), like errorResponse
    expect(errors.at(-1)).toBeInstanceOf(CsrfError);
    expect((errors.at(-1) as CsrfError).reason).toBe('invalid-token');
  });

  it('exposes the manager it uses, and accepts a manager instead of options', () => {
    expect(middleware.manager).toBeInstanceOf(SessionManager);
    expect(middleware.manager.store).toBe(store);
    const manager = new SessionManager({ secret: SECRET, store, cookie: { secure: false } });
    expect(session(manager).manager).toBe(manager);
  });

  it('refuses csrf() without session() before it, naming the fix', async () => {
    const app = new Koa();
    app.silent = true;
    const seen: unknown[] = [];
    app.on('error', (err) => seen.push(err));
    app.use(csrf());
    app.use((ctx: Context) => void (ctx.body = 'ran'));
    const bare = await listen(app);
    try {
      expect((await fetch(`${bare.baseUrl}/`, { method: 'POST' })).status).toBe(500);
      expect(seen[0]).toBeInstanceOf(ConfigError);
      expect((seen[0] as Error).message).toBe('[sess] csrf() found no session: add app.use(session({ secret, store })) before app.use(csrf()).');
    } finally {
      await bare.close();
    }
  });
});
