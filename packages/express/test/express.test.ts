import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import express4 from 'express4';
import express5 from 'express5';
import type { Express, NextFunction, Request, Response } from 'express';
import { ConfigError, CsrfError, SessionManager, StoreError } from '@sess/core';
import { ControlledStore, HttpClient } from '@sess/test-utils';
import { csrf, session } from '@sess/express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET, listen } from './app.js';

const dir = mkdtempSync(join(tmpdir(), 'sess-express-'));
writeFileSync(join(dir, 'file.txt'), 'from a file');
writeFileSync(join(dir, 'page.ejs'), '<% if (session.has("success")) { %><p class="flash"><%= session.get("success") %></p><% } %><p>page</p>');
writeFileSync(join(dir, 'form.ejs'), '<form method="post"><input type="hidden" name="_token" value="<%= csrfToken() %>"></form>');
const big = 'x'.repeat(1024 * 1024);

describe.each([
  ['express 4', express4],
  ['express 5', express5],
] as const)('%s', (_name, expressLib) => {
  const express = expressLib as unknown as { (): Express; urlencoded(o: object): any };
  const store = new ControlledStore();
  const errors: unknown[] = [];
  let server: Awaited<ReturnType<typeof listen>>;
  let middleware: ReturnType<typeof session>;

  beforeAll(async () => {
    const app = express();
    app.set('views', dir);
    app.set('view engine', 'ejs');
    middleware = session({ secret: SECRET, store, cookie: { secure: false } });
    app.use(middleware);
    const put = (req: Request) => req.session.put('how', req.path.slice(1));
    app.get('/send', (req, res) => void (put(req), res.send('sent')));
    app.get('/json', (req, res) => void (put(req), res.json({ ok: 1 })));
    app.get('/redirect', (req, res) => void (put(req), res.redirect('/how')));
    app.get('/end', (req, res) => void (put(req), res.end()));
    app.get('/write-head', (req, res) => {
      put(req);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('part 1, ');
      res.end('part 2');
    });
    app.get('/stream', (req, res) => void (put(req), res.type('text'), Readable.from([big.slice(0, 500_000), big.slice(500_000)]).pipe(res)));
    app.get('/send-file', (req, res) => void (put(req), res.sendFile(join(dir, 'file.txt'))));
    app.get('/render', (req, res) => void (put(req), res.render('page')));
    app.get('/flash', (req, res) => void (req.session.flash('success', 'Saved <ok>'), res.redirect('/page')));
    app.get('/page', (_req, res) => res.render('page'));
    app.get('/throw', (req) => {
      put(req);
      throw new Error('handler failed');
    });
    app.get('/async-error', (req, _res, next) => {
      put(req);
      Promise.reject(new Error('async failed')).catch(next);
    });
    app.get('/how', (req, res) => void res.json({ how: req.session.get('how') ?? null }));
    app.get('/locals', (req, res) => void res.json({ same: res.locals.session === req.session }));
    app.get('/form', express.urlencoded({ extended: false }), csrf(), (_req, res) => res.render('form'));
    app.post('/form', express.urlencoded({ extended: false }), csrf(), (req, res) => void res.send(`posted ${req.session.increment('posts')}`));
    app.post('/unguarded-csrf', csrf(), (_req, res) => void res.send('ran'));
    app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
      errors.push(err);
      const status = (err as { status?: number }).status ?? 500;
      res.status(status).json({ error: (err as Error).message });
    });
    server = await listen(app);
    store.latencyMs = 15; // a slow store: a commit racing the response would lose
  });
  afterAll(() => server.close());

  for (const [path, body] of [
    ['/send', 'sent'],
    ['/json', '{"ok":1}'],
    ['/redirect', undefined],
    ['/end', ''],
    ['/write-head', 'part 1, part 2'],
    ['/stream', big],
    ['/send-file', 'from a file'],
    ['/render', '<p>page</p>'],
  ] as const) {
    it(`commits before the response of ${path} goes out`, async () => {
      const b = new HttpClient(server.baseUrl);
      const response = await b.get(path);
      expect(response.headers.getSetCookie()).toHaveLength(1);
      if (body !== undefined) expect(await response.text()).toBe(body);
      expect(await (await b.get('/how')).json()).toEqual({ how: path.slice(1) });
    });
  }

  it('commits nothing of a request that threw and an error middleware answered 500 (commitOnError off)', async () => {
    const b = new HttpClient(server.baseUrl);
    const response = await b.get('/throw');
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: 'handler failed' });
    expect(await (await b.get('/how')).json()).toEqual({ how: null });
  });

  it('commits nothing of a request whose async error went to next(err) (commitOnError off)', async () => {
    const b = new HttpClient(server.baseUrl);
    const response = await b.get('/async-error');
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: 'async failed' });
    expect(await (await b.get('/how')).json()).toEqual({ how: null });
  });

  it('writeHead with array headers (flat and nested) keeps the session cookie, and a second answer after a held end is dropped', async () => {
    const slow = new ControlledStore();
    slow.latencyMs = 30;
    const app = express();
    app.use(session({ secret: SECRET, store: slow, cookie: { secure: false } }));
    app.get('/flat', (req, res) => {
      req.session.put('how', 'flat');
      res.writeHead(302, ['Location', '/how', 'Set-Cookie', 'a=1; Path=/', 'Set-Cookie', 'b=2; Path=/']).end();
    });
    app.get('/nested', (req, res) => {
      req.session.put('how', 'nested');
      res.writeHead(200, 'Fine', [['Content-Type', 'text/plain'], ['Set-Cookie', 'c=3; Path=/']]).end('nested');
    });
    app.get('/twice', (req, res) => {
      req.session.put('how', 'twice');
      res.status(201).json({ first: true });
      res.status(500).set('x-second', 'yes').json({ second: true }); // an error middleware answering again
    });
    app.get('/how', (req, res) => void res.json({ how: req.session.get('how') ?? null }));
    const other = await listen(app);
    try {
      const b = new HttpClient(other.baseUrl);
      const flat = await b.get('/flat');
      expect(flat.status).toBe(302);
      expect(flat.headers.getSetCookie().map((c) => c.split('=')[0]).sort()).toEqual(['a', 'b', 'sess']);
      expect(await (await b.get('/how')).json()).toEqual({ how: 'flat' });
      const c = new HttpClient(other.baseUrl);
      const nested = await c.get('/nested');
      expect([nested.status, nested.statusText, await nested.text()]).toEqual([200, 'Fine', 'nested']);
      expect(nested.headers.getSetCookie().map((x) => x.split('=')[0]).sort()).toEqual(['c', 'sess']);
      const d = new HttpClient(other.baseUrl);
      const twice = await d.get('/twice');
      expect([twice.status, await twice.json(), twice.headers.get('x-second')]).toEqual([201, { first: true }, null]);
      expect(await (await d.get('/how')).json()).toEqual({ how: 'twice' });
    } finally {
      await other.close();
    }
  });

  it('with commitOnError, the changes of a request that failed are written', async () => {
    const app = express();
    app.use(session({ secret: SECRET, store: new ControlledStore(), cookie: { secure: false }, commitOnError: true }));
    app.get('/fail', (req) => {
      req.session.put('how', 'failed');
      throw new Error('boom');
    });
    app.get('/how', (req, res) => void res.json({ how: req.session.get('how') ?? null }));
    app.use((_err: unknown, _req: Request, res: Response, _next: NextFunction) => void res.status(500).json({ error: 'x' }));
    const other = await listen(app);
    try {
      const b = new HttpClient(other.baseUrl);
      expect((await b.get('/fail')).status).toBe(500);
      expect(await (await b.get('/how')).json()).toEqual({ how: 'failed' });
    } finally {
      await other.close();
    }
  });

  it('shows a flash message in an EJS view through res.locals.session, once', async () => {
    const b = new HttpClient(server.baseUrl);
    expect((await b.get('/flash')).status).toBe(302);
    expect(await (await b.get('/page')).text()).toBe('<p class="flash">Saved &lt;ok&gt;</p><p>page</p>');
    expect(await (await b.get('/page')).text()).toBe('<p>page</p>');
    expect(await (await b.get('/locals')).json()).toEqual({ same: true });
  });

  it('renders res.locals.csrfToken() into a form whose post passes once', async () => {
    const b = new HttpClient(server.baseUrl);
    const html = await (await b.get('/form')).text();
    const token = /name="_token" value="([\w-]+)"/.exec(html)![1]!;
    const first = await b.post('/form', { form: { _token: token } });
    expect(await first.text()).toBe('posted 1');
    expect(first.headers.get('vary')).toBe('Sec-Fetch-Site, Origin');
    expect((await b.post('/form', { form: { _token: token } })).status).toBe(403);
  });

  it('passes a load failure to the error middleware as a StoreError (503)', async () => {
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

  it('answers 500, not 503, when the commit refuses a record over maxSize, and writes nothing', async () => {
    const app = express();
    const small = new ControlledStore();
    app.use(session({ secret: SECRET, store: small, cookie: { secure: false }, maxSize: 1000 }));
    app.get('/big', (req, res) => void (req.session.put('big', 'x'.repeat(5000)), res.send('should not be sent')));
    const s = await listen(app);
    try {
      const response = await new HttpClient(s.baseUrl).get('/big');
      expect(response.status).toBe(500);
      expect(await response.text()).toBe('Internal Server Error');
      expect(response.headers.getSetCookie()).toEqual([]);
      expect(small.inner.size).toBe(0);
    } finally {
      await s.close();
    }
  });

  it('exposes the manager it uses, and accepts a manager instead of options', async () => {
    expect(middleware.manager).toBeInstanceOf(SessionManager);
    expect(middleware.manager.store).toBe(store);
    const manager = new SessionManager({ secret: SECRET, store, cookie: { secure: false } });
    expect(session(manager).manager).toBe(manager);
  });

  it('refuses csrf() without session() before it, naming the fix', async () => {
    const app = express();
    const seen: unknown[] = [];
    app.post('/', csrf(), (_req: Request, res: Response) => void res.send('ran'));
    app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => void (seen.push(err), res.status(500).end()));
    const bare = await listen(app);
    try {
      expect((await fetch(`${bare.baseUrl}/`, { method: 'POST' })).status).toBe(500);
      expect(seen[0]).toBeInstanceOf(ConfigError);
      expect((seen[0] as Error).message).toBe('[sess] csrf() found no session: add app.use(session({ secret, store })) before app.use(csrf()).');
    } finally {
      await bare.close();
    }
  });

  it('gives the CsrfError to the error middleware, and the handler does not run', async () => {
    const response = await new HttpClient(server.baseUrl).post('/unguarded-csrf', { headers: { 'x-csrf-token': 'nope' } });
    expect(response.status).toBe(403);
    expect(await response.text()).not.toContain('ran');
    expect(errors.at(-1)).toBeInstanceOf(CsrfError);
    expect((errors.at(-1) as CsrfError).reason).toBe('invalid-token');
  });
});
