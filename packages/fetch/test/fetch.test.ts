import { CsrfError, MemoryStore, SessionManager, StoreError } from '@sess/core';
import { ControlledStore } from '@sess/test-utils';
import { createSessions, errorToResponse, type Session } from '@sess/fetch';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { SECRET, serveWithNodeServer } from './app.js';

const options = { secret: SECRET, cookie: { secure: false } };
const get = (path = '/', headers: Record<string, string> = {}) => new Request(`http://127.0.0.1${path}`, { headers });
const cookieOf = (response: Response | Headers) => ('headers' in response ? response.headers : response).getSetCookie()[0]!.split(';')[0]!;

describe('createSessions', () => {
  it('types the session through the generic', async () => {
    const sessions = createSessions<{ visits: number; name: string }>({ ...options, store: new MemoryStore() });
    const { session } = await sessions.begin(get());
    expectTypeOf(session).toEqualTypeOf<Session<{ visits: number; name: string }>>();
    expectTypeOf(session.get('visits')).toEqualTypeOf<number | undefined>();
    expectTypeOf(session.increment('visits')).toEqualTypeOf<number>();
    // @ts-expect-error: not a key of the data
    session.get('nope');
    // @ts-expect-error: name is a string, not a number
    session.increment('name');
  });

  it('finish(response) adds one cookie however often it is called; finish() gives the headers', async () => {
    const sessions = createSessions({ ...options, store: new MemoryStore() });
    const active = await sessions.begin(get());
    active.session.put('a', 1);
    const response = await active.finish(new Response('ok'));
    expect(response.headers.getSetCookie()).toHaveLength(1);
    expect((await active.finish(new Response('again'))).headers.getSetCookie()).toEqual([]);
    const next = await sessions.begin(get('/', { cookie: cookieOf(response) }));
    expect(next.session.get('a')).toBe(1);
    next.session.regenerateId(true); // a new id: a new cookie
    const headers = await next.finish();
    expect(headers).toBeInstanceOf(Headers);
    expect(headers.getSetCookie()).toHaveLength(1);
    expect((await sessions.begin(get('/', { cookie: cookieOf(headers) }))).session.get('a')).toBe(1);
  });

  it('copies a response with immutable headers, keeping its status, body and headers', async () => {
    const sessions = createSessions({ ...options, store: new MemoryStore() });
    const active = await sessions.begin(get());
    active.session.put('a', 1);
    const redirect = Response.redirect('http://127.0.0.1/next', 303);
    const out = await active.finish(redirect);
    expect(out).not.toBe(redirect);
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('http://127.0.0.1/next');
    expect(out.headers.getSetCookie()).toHaveLength(1);
  });

  it('rolls back a 5xx response and a thrown handler; commitOnError writes both', async () => {
    for (const commitOnError of [false, true]) {
      const store = new MemoryStore();
      const sessions = createSessions({ ...options, store, commitOnError });
      const seed = await sessions.begin(get());
      seed.session.put('n', 0);
      const cookie = cookieOf(await seed.finish(new Response('ok')));
      const five = await sessions.begin(get('/', { cookie }));
      five.session.put('n', 1);
      expect((await five.finish(new Response('failed', { status: 500 }))).status).toBe(500);
      await expect(sessions.handle(get('/', { cookie }), (s) => (s.put('n', 2), Promise.reject(new Error('bug'))))).rejects.toThrow('bug');
      const after = await sessions.begin(get('/', { cookie }));
      expect(after.session.get('n')).toBe(commitOnError ? 2 : 0);
    }
  });

  it('answers sess errors with onError, from begin and from the commit, and adds Vary under csrf', async () => {
    const store = new ControlledStore();
    const seen: number[] = [];
    const sessions = createSessions({
      ...options,
      store,
      csrf: true,
      onError: (err, request) => (seen.push(err.status), new Response(`sorry (${new URL(request.url).pathname})`, { status: err.status })),
    });
    const refused = await sessions.handle(new Request('http://127.0.0.1/form', { method: 'POST' }), () => new Response('ran'));
    expect([refused.status, await refused.text(), refused.headers.get('vary')]).toEqual([403, 'sorry (/form)', 'Sec-Fetch-Site, Origin']);
    store.down = true;
    const down = await sessions.handle(get('/new'), (s) => (s.put('a', 1), new Response('ok')));
    expect([down.status, await down.text()]).toEqual([503, 'sorry (/new)']);
    expect(seen).toEqual([403, 503]);
  });

  it('without onError answers plain text: a 4xx says what, a 5xx only its status text', async () => {
    const response = errorToResponse(new StoreError('[sess] the session store failed to read: connect ENOENT /var/secret.sock'));
    expect([response.status, await response.text()]).toEqual([503, 'Service Unavailable']);
    const csrf = errorToResponse(new CsrfError('[sess] CSRF token missing: send it.', 'missing-token'));
    expect([csrf.status, await csrf.text()]).toEqual([403, '[sess] CSRF token missing: send it.']);
  });

  it('keeps the cookie when a later layer copies the response, on @hono/node-server 1.x (its own global Response)', async () => {
    const sessions = createSessions({ ...options, store: new MemoryStore() });
    const server = await serveWithNodeServer(async (request) => {
      const out = await sessions.handle(request, (s) => (s.put('a', 1), Response.json({ ok: true })));
      const copy = new Response(out.body, out); // what cors(), compress() or c.header() after next() do in Hono
      copy.headers.set('x-outer', '1');
      return copy;
    });
    try {
      const response = await fetch(server.baseUrl);
      expect(response.headers.get('x-outer')).toBe('1');
      expect(response.headers.getSetCookie()).toHaveLength(1);
      expect(await response.json()).toEqual({ ok: true });
    } finally {
      await server.close();
    }
  });

  it('takes a manager, and exposes it', () => {
    const manager = new SessionManager({ ...options, store: new MemoryStore() });
    expect(createSessions(manager, { csrf: true }).manager).toBe(manager);
    expect(createSessions({ ...options }).manager).toBeInstanceOf(SessionManager);
  });
});
