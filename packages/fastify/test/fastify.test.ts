import { createReadStream, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import ejs from 'ejs';
import fastify4 from 'fastify4';
import fastify5 from 'fastify5';
import view9 from 'fastify-view9';
import view12 from '@fastify/view';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConfigError, CsrfError, SessionManager, StoreError } from '@sess/core';
import { ControlledStore, HttpClient } from '@sess/test-utils';
import { csrf, session, sessionOf } from '@sess/fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fastify, SECRET, formBody, listen, redirect } from './app.js';

const dir = mkdtempSync(join(tmpdir(), 'sess-fastify-'));
writeFileSync(join(dir, 'file.txt'), 'from a file');
writeFileSync(join(dir, 'page.ejs'), '<% if (session.has("success")) { %><p class="flash"><%= session.get("success") %></p><% } %><p>page</p>');
writeFileSync(join(dir, 'form.ejs'), '<form method="post"><input type="hidden" name="_token" value="<%= csrfToken() %>"></form>');
const big = 'x'.repeat(1024 * 1024);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A pino destination that keeps the log lines. */
function logSink() {
  const lines: Array<Record<string, any>> = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { lines, logger: { level: 'info', stream } };
}

describe.each([
  ['fastify 4', fastify4 as Fastify, view9],
  ['fastify 5', fastify5 as Fastify, view12],
] as const)('%s', (_name, fastify, view) => {
  const store = new ControlledStore();
  const errors: unknown[] = [];
  const log = logSink();
  let app: FastifyInstance;
  let server: Awaited<ReturnType<typeof listen>>;
  const opened: Readable[] = [];

  beforeAll(async () => {
    app = fastify({ logger: log.logger });
    formBody(app);
    await app.register(view as any, { engine: { ejs }, root: dir });
    await app.register(session, { secret: SECRET, store, cookie: { secure: false } });
    const put = (request: FastifyRequest) => request.session.put('how', request.url.slice(1).split('?')[0]!);
    app.get('/send', (request, reply) => void (put(request), reply.send('sent')));
    app.get('/json', async (request) => (put(request), { ok: 1 }));
    app.get('/redirect', (request, reply) => (put(request), redirect(reply, '/how')));
    app.get('/see-other', (request, reply) => (put(request), redirect(reply, '/how', 303)));
    app.get('/stream', (request, reply) => (put(request), reply.type('text/plain').send(Readable.from([big.slice(0, 500_000), big.slice(500_000)]))));
    app.get('/file', (request, reply) => {
      put(request);
      const file = createReadStream(join(dir, 'file.txt'));
      opened.push(file);
      return reply.type('text/plain').send(file);
    });
    app.get('/empty', (request, reply) => (put(request), reply.code(204).send()));
    app.get('/created', (request, reply) => (put(request), reply.code(201).send({ created: true })));
    app.get('/view', (request, reply) => (put(request), reply.view('page.ejs')));
    app.get('/flash', (request, reply) => (request.session.flash('success', 'Saved <ok>'), redirect(reply, '/page')));
    app.get('/page', (_request, reply) => reply.view('page.ejs'));
    app.get('/form', { preHandler: csrf() }, (_request, reply) => reply.view('form.ejs'));
    app.post('/form', { preHandler: csrf() }, (request) => `posted ${request.session.increment('posts')}`);
    app.get('/locals', (request, reply) => ({ same: (reply as unknown as { locals: { session: unknown } }).locals.session === request.session }));
    const routeCookies = ['a=1; Path=/', 'b=2; Path=/'];
    app.get('/cookies', (request, reply) => (put(request), reply.header('set-cookie', routeCookies).send('cookies')));
    app.get('/raw-cookie', (request, reply) => {
      put(request);
      reply.raw.setHeader('set-cookie', 'raw=1; Path=/');
      return reply.send('raw');
    });
    app.get('/throw', (request) => {
      put(request);
      throw new Error('handler failed');
    });
    app.get('/bad-input', async (request) => {
      put(request);
      throw Object.assign(new Error('bad input'), { statusCode: 400 });
    });
    app.get('/handled', (request) => {
      put(request);
      throw Object.assign(new Error('went wrong'), { flash: true });
    });
    app.get('/send-then-throw', (request, reply) => {
      put(request);
      reply.send({ first: true });
      throw new Error('after the answer');
    });
    app.get('/send-then-reject', async (request, reply) => {
      put(request);
      reply.code(201).send({ first: true });
      await sleep(1);
      throw new Error('after the answer, later');
    });
    app.get('/how', (request) => ({ how: request.session.get('how') ?? null, error: request.session.get('error') ?? null }));
    app.get('/typed', (request) => {
      const typed = sessionOf<{ how: string }>(request);
      return { how: typed.get('how', 'none') };
    });
    app.post('/guarded', { preHandler: csrf() }, () => 'ran');
    // An error handler that answers: a flash and a redirect are committed, an error answer is not.
    app.setErrorHandler((err: Error & { flash?: boolean; statusCode?: number }, request, reply) => {
      errors.push(err);
      if (err.flash) {
        request.session.flash('error', err.message);
        return redirect(reply, '/how');
      }
      return reply.send(err);
    });
    server = await listen(app);
    store.latencyMs = 15; // a slow store: a commit racing the response would lose
  });
  afterAll(() => server.close());

  for (const [path, body] of [
    ['/send', 'sent'],
    ['/json', '{"ok":1}'],
    ['/redirect', undefined],
    ['/see-other', undefined],
    ['/stream', big],
    ['/file', 'from a file'],
    ['/empty', ''],
    ['/created', '{"created":true}'],
    ['/view', '<p>page</p>'],
  ] as const) {
    it(`commits before the response of ${path} goes out`, async () => {
      const b = new HttpClient(server.baseUrl);
      const response = await b.get(path);
      expect(response.headers.getSetCookie()).toHaveLength(1);
      if (body !== undefined) expect(await response.text()).toBe(body);
      expect(await (await b.get('/how')).json()).toEqual({ how: path.slice(1), error: null });
    });
  }

  it('redirects with reply.redirect in the argument order of this major', async () => {
    const b = new HttpClient(server.baseUrl);
    const response = await b.get('/see-other');
    expect([response.status, response.headers.get('location')]).toEqual([303, '/how']);
  });

  it('commits a HEAD request (the GET route runs) and sends no body', async () => {
    const b = new HttpClient(server.baseUrl);
    const response = await b.request('/json', { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.headers.getSetCookie()).toHaveLength(1);
    expect(await response.text()).toBe('');
    expect(await (await b.get('/how')).json()).toEqual({ how: 'json', error: null });
  });

  it('keeps the Set-Cookie headers a route set, through reply.header (an array) and reply.raw.setHeader', async () => {
    const b = new HttpClient(server.baseUrl);
    const response = await b.get('/cookies');
    expect(response.headers.getSetCookie().map((c) => c.split('=')[0]).sort()).toEqual(['a', 'b', 'sess']);
    const again = await new HttpClient(server.baseUrl).get('/cookies'); // the route's array was not grown by the first request
    expect(again.headers.getSetCookie()).toHaveLength(3);
    const raw = await new HttpClient(server.baseUrl).get('/raw-cookie');
    expect(raw.headers.getSetCookie().map((c) => c.split('=')[0]).sort()).toEqual(['raw', 'sess']);
  });

  it('drops the changes of a handler that throws (500, no detail in the body)', async () => {
    const b = new HttpClient(server.baseUrl);
    await b.get('/json');
    const response = await b.get('/throw');
    expect(response.status).toBe(500);
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(await (await b.get('/how')).json()).toEqual({ how: 'json', error: null });
  });

  it('drops the changes of a request whose error is answered with a 4xx', async () => {
    const b = new HttpClient(server.baseUrl);
    await b.get('/json');
    const response = await b.get('/bad-input');
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toBe('bad input');
    expect(await (await b.get('/how')).json()).toEqual({ how: 'json', error: null });
  });

  it('drops what the failed handler changed but commits what an error handler that redirects does (a flash)', async () => {
    const b = new HttpClient(server.baseUrl);
    await b.get('/json');
    const response = await b.get('/handled');
    expect(response.status).toBe(302);
    expect(await (await b.get('/how')).json()).toEqual({ how: 'json', error: 'went wrong' });
    const fresh = new HttpClient(server.baseUrl); // a new session: the error handler's flash creates it
    expect((await fresh.get('/handled')).headers.getSetCookie()).toHaveLength(1);
    expect(await (await fresh.get('/how')).json()).toEqual({ how: null, error: 'went wrong' });
  });

  it('commits the token an error page renders (a 403 page with a form), and with commitOnError keeps the handler\'s change', async () => {
    for (const commitOnError of [false, true]) {
      const other = fastify();
      formBody(other);
      await other.register(session, { secret: SECRET, store: new ControlledStore(), cookie: { secure: false }, commitOnError });
      other.post('/submit', { preHandler: csrf() }, (request) => ({ n: request.session.increment('n') }));
      other.get('/fail', (request) => {
        request.session.put('failed', 'yes');
        throw Object.assign(new Error('refused'), { statusCode: 422 });
      });
      other.get('/failed', (request) => ({ failed: request.session.get('failed') ?? null }));
      other.setErrorHandler((err: Error & { statusCode?: number }, _request, reply) => reply.code(err.statusCode ?? 500).send({ token: reply.csrfToken() }));
      const started = await listen(other);
      try {
        const b = new HttpClient(started.baseUrl);
        const refused = await b.post('/submit', { form: { _token: 'stale' } });
        expect(refused.status).toBe(403);
        const { token } = (await refused.json()) as { token: string };
        expect(await (await b.post('/submit', { form: { _token: token } })).json()).toEqual({ n: 1 });
        const failed = await b.get('/fail');
        expect(failed.status).toBe(422);
        const again = (await failed.json()) as { token: string };
        expect(await (await b.get('/failed')).json()).toEqual({ failed: commitOnError ? 'yes' : null });
        expect(await (await b.post('/submit', { form: { _token: again.token } })).json()).toEqual({ n: 2 });
      } finally {
        await started.close();
      }
    }
  });

  for (const path of ['/send-then-throw', '/send-then-reject']) {
    it(`${path}: an error after reply.send() leaves the first answer intact and is logged (slow store, 5 times)`, async () => {
      for (let i = 0; i < 5; i++) {
        const b = new HttpClient(server.baseUrl);
        const before = log.lines.length;
        const response = await b.get(path);
        expect([response.status, await response.json()]).toEqual([path === '/send-then-throw' ? 200 : 201, { first: true }]);
        expect(response.headers.getSetCookie()).toHaveLength(1);
        expect(await (await b.get('/how')).json()).toEqual({ how: path.slice(1), error: null });
        const logged = log.lines.slice(before).filter((l) => l.msg?.includes('[sess] an error after the reply was sent'));
        expect(logged).toHaveLength(1);
        expect(logged[0]!.err.message).toMatch(/after the answer/);
      }
      expect(await (await new HttpClient(server.baseUrl).get('/how')).json()).toEqual({ how: null, error: null });
    });
  }

  it('shows a flash message in an EJS view through reply.locals.session, once', async () => {
    const b = new HttpClient(server.baseUrl);
    expect((await b.get('/flash')).status).toBe(302);
    expect(await (await b.get('/page')).text()).toBe('<p class="flash">Saved &lt;ok&gt;</p><p>page</p>');
    expect(await (await b.get('/page')).text()).toBe('<p>page</p>');
    expect(await (await b.get('/locals')).json()).toEqual({ same: true });
  });

  it('renders reply.locals.csrfToken() into a form whose post passes once (csrf() preHandler)', async () => {
    const b = new HttpClient(server.baseUrl);
    const html = await (await b.get('/form')).text();
    const token = /name="_token" value="([\w-]+)"/.exec(html)![1]!;
    const first = await b.post('/form', { form: { _token: token } });
    expect(await first.text()).toBe('posted 1');
    expect(first.headers.get('vary')).toBe('Sec-Fetch-Site, Origin');
    expect((await b.post('/form', { form: { _token: token } })).status).toBe(403);
  });

  it('reaches reply.locals when @fastify/view is registered after the plugin (its onRequest hook resets them)', async () => {
    const other = fastify();
    await other.register(session, { secret: SECRET, cookie: { secure: false } });
    await other.register(view as any, { engine: { ejs }, root: dir });
    other.get('/flash', (request, reply) => (request.session.flash('success', 'later'), redirect(reply, '/page')));
    other.get('/page', (_request, reply) => reply.view('page.ejs'));
    const started = await listen(other);
    try {
      const b = new HttpClient(started.baseUrl);
      await b.get('/flash');
      expect(await (await b.get('/page')).text()).toBe('<p class="flash">later</p><p>page</p>');
    } finally {
      await started.close();
    }
  });

  it('refuses a bad token with the CsrfError (403, its message shown) before the handler runs', async () => {
    const response = await new HttpClient(server.baseUrl).post('/guarded', { form: { _token: 'nope' } });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { message: string }).message).toMatch(/^\[sess\] CSRF token/);
    expect(errors.at(-1)).toBeInstanceOf(CsrfError);
    expect((errors.at(-1) as CsrfError & { statusCode: number }).statusCode).toBe(403);
  });

  it('answers 503 for a store failure at load, the StoreError carrying statusCode, the body without detail', async () => {
    const b = new HttpClient(server.baseUrl);
    await b.get('/json');
    store.down = true;
    try {
      const response = await b.get('/how');
      expect(response.status).toBe(503);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(await response.json()).toEqual({ statusCode: 503, code: 'E_STORE', error: 'Service Unavailable', message: 'Service Unavailable' });
      const err = errors.at(-1) as StoreError & { statusCode: number };
      expect(err).toBeInstanceOf(StoreError);
      expect(err.statusCode).toBe(503);
      expect(err.message).toContain(ControlledStore.DOWN_MESSAGE); // the detail stays on the error, for the log
    } finally {
      store.down = false;
    }
  });

  for (const path of ['/stream', '/file', '/created', '/redirect']) {
    it(`answers 503 instead of ${path} when the commit fails (no Set-Cookie, no Location, the stream released)`, async () => {
      const b = new HttpClient(server.baseUrl);
      store.down = true; // a new session: nothing read at load, the write at commit fails
      try {
        const response = await b.get(path);
        expect(response.status).toBe(503);
        expect(await response.json()).toEqual({ statusCode: 503, code: 'E_STORE', error: 'Service Unavailable', message: 'Service Unavailable' });
        expect(response.headers.getSetCookie()).toEqual([]);
        expect(response.headers.get('location')).toBeNull();
        if (path === '/file') expect(opened.at(-1)!.destroyed).toBe(true);
      } finally {
        store.down = false;
      }
    });
  }

  it('types the session through sessionOf<Data>()', async () => {
    const b = new HttpClient(server.baseUrl);
    await b.get('/json');
    expect(await (await b.get('/typed')).json()).toEqual({ how: 'json' });
  });

  it('exposes the manager as fastify.sessionManager, and accepts { manager } instead of options', async () => {
    expect(app.sessionManager).toBeInstanceOf(SessionManager);
    expect(app.sessionManager.store).toBe(store);
    const manager = new SessionManager({ secret: SECRET, store, cookie: { secure: false } });
    const other = fastify();
    await other.register(session, { manager });
    await other.ready();
    expect(other.sessionManager).toBe(manager);
    await other.close();
  });

  it('refuses to be registered twice, naming the problem', async () => {
    const other = fastify();
    other.register(session, { secret: SECRET });
    other.register(session, { secret: SECRET });
    await expect(other.ready()).rejects.toThrow(ConfigError);
    await other.close().catch(() => {});
  });

  it('leaves reply.locals alone when nothing decorated it, and csrf() without the plugin is a ConfigError naming the fix', async () => {
    const seen: unknown[] = [];
    const bare = fastify();
    bare.setErrorHandler((err, _request, reply) => void (seen.push(err), reply.send(err)));
    bare.post('/', { preHandler: csrf() }, () => 'ran');
    const plain = fastify();
    await plain.register(session, { secret: SECRET, cookie: { secure: false } });
    plain.get('/', (_request, reply) => ({ locals: 'locals' in reply }));
    const [one, two] = [await listen(bare), await listen(plain)];
    try {
      const response = await fetch(`${one.baseUrl}/`, { method: 'POST' });
      expect(response.status).toBe(500);
      expect(seen[0]).toBeInstanceOf(ConfigError);
      expect((seen[0] as Error).message).toMatch(/^\[sess\] csrf\(\) found no session: register the session plugin/);
      expect(await (await fetch(`${two.baseUrl}/`)).json()).toEqual({ locals: false });
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('with csrf: true, loads in preValidation: one store write per checked POST, the session there for a schema error and a 404', async () => {
    const counted = new ControlledStore();
    const calls: string[] = [];
    for (const method of ['get', 'update', 'set', 'rotate', 'destroy'] as const) {
      const original = counted[method].bind(counted) as (...args: unknown[]) => unknown;
      (counted as any)[method] = (...args: unknown[]) => (calls.push(method), original(...args));
    }
    const other = fastify();
    formBody(other);
    await other.register(session, { secret: SECRET, store: counted, cookie: { secure: false }, csrf: true });
    other.get('/token', (_request, reply) => ({ token: reply.csrfToken() }));
    other.post('/submit', { preHandler: csrf() }, (request) => ({ submits: request.session.increment('submits') })); // csrf() defers to the option
    other.post('/read', (request) => ({ n: request.session.get('submits') ?? 0 }));
    other.get('/typed', { schema: { querystring: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } } }, () => 'ok');
    other.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => reply.code(err.statusCode ?? 500).send({ hasSession: request.session !== null }));
    other.setNotFoundHandler((request, reply) => reply.code(404).send({ hasSession: request.session !== null }));
    const started = await listen(other);
    try {
      const b = new HttpClient(started.baseUrl);
      const { token } = (await (await b.get('/token')).json()) as { token: string };
      calls.length = 0;
      const ok = await b.post('/submit', { form: { _token: token } });
      expect(await ok.json()).toEqual({ submits: 1 });
      expect(ok.headers.get('vary')).toBe('Sec-Fetch-Site, Origin');
      expect(calls).toEqual(['get', 'update', 'update']); // the load (a read, and one write taking the token), the commit of the increment
      calls.length = 0;
      const { token: second } = (await (await b.get('/token')).json()) as { token: string };
      calls.length = 0;
      expect(await (await b.post('/read', { headers: { 'x-csrf-token': second } })).json()).toEqual({ n: 1 });
      expect(calls).toEqual(['get', 'update']); // a read-only checked POST: the load only
      expect((await b.post('/read', { form: {} })).status).toBe(403);
      const invalid = await b.get('/typed?n=x');
      expect([invalid.status, await invalid.json()]).toEqual([400, { hasSession: true }]);
      const missing = await b.get('/nowhere');
      expect([missing.status, await missing.json()]).toEqual([404, { hasSession: true }]);
    } finally {
      await started.close();
    }
  });

  it('with commitOnError, the changes of a request that failed are written', async () => {
    const other = fastify();
    await other.register(session, { secret: SECRET, store: new ControlledStore(), cookie: { secure: false }, commitOnError: true });
    other.get('/fail', (request) => {
      request.session.put('how', 'failed');
      throw new Error('boom');
    });
    other.get('/how', (request) => ({ how: request.session.get('how') ?? null }));
    const started = await listen(other);
    try {
      const b = new HttpClient(started.baseUrl);
      expect((await b.get('/fail')).status).toBe(500);
      expect(await (await b.get('/how')).json()).toEqual({ how: 'failed' });
    } finally {
      await started.close();
    }
  });

  it('the session is there in an onRequest hook (without csrf: true)', async () => {
    const other = fastify();
    await other.register(session, { secret: SECRET, cookie: { secure: false } });
    other.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.url === '/private' && !request.session.has('user')) return redirect(reply, '/sign-in');
    });
    other.get('/private', () => 'secret');
    const started = await listen(other);
    try {
      const response = await new HttpClient(started.baseUrl).get('/private');
      expect([response.status, response.headers.get('location')]).toEqual([302, '/sign-in']);
    } finally {
      await started.close();
    }
  });
});
