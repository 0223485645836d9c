import { describe, expect, it } from 'vitest';
import { MemoryStore, SessionManager } from '../src/index.js';
import { SessionLifecycle, errorResponse, type Exchange } from '../src/http/index.js';
import { StoreError } from '../src/index.js';
import { countStoreCalls, testSecret } from '../src/testing.js';

const secret = testSecret();

function setup(options: { csrf?: boolean; commitOnError?: boolean } = {}) {
  const { store, counts } = countStoreCalls(new MemoryStore({ sweepInterval: 0 }));
  const manager = new SessionManager({ secret, store, cookie: { secure: false } });
  const lifecycle = new SessionLifecycle(manager, options);
  let cookie: string | undefined;
  /** One request through the lifecycle, with a cookie jar. */
  async function request<T>(method: string, handler: (s: import('../src/index.js').Session) => T, extra: { token?: string; status?: number; error?: unknown } = {}) {
    const exchange: Exchange = {
      method,
      header: (name) => (name === 'cookie' ? cookie : name === 'x-csrf-token' ? extra.token : undefined),
    };
    const active = await lifecycle.begin(exchange);
    const result = handler(active.session);
    const set = await active.finish({ status: extra.status ?? 200, error: extra.error });
    if (set) cookie = set.value === '' ? undefined : `${set.name}=${set.value}`;
    return { result, set, session: active.session };
  }
  return { manager, lifecycle, counts, request, store };
}

describe('the request lifecycle: store calls per request', () => {
  it('GET of an untouched session: 1 read, 0 writes', async () => {
    const { request, counts } = setup();
    await request('GET', (s) => s.put('a', 1));
    counts.reset();
    await request('GET', (s) => s.get('a'));
    expect([counts.reads(), counts.writes()]).toEqual([1, 0]);
  });

  it('GET that changes data: 1 read, 1 write', async () => {
    const { request, counts } = setup();
    await request('GET', (s) => s.put('a', 1));
    counts.reset();
    await request('GET', (s) => s.increment('visits'));
    expect([counts.reads(), counts.writes()]).toEqual([1, 1]);
  });

  it('GET that shows a flash: 1 read, 1 write (the flash taken at load); with a change too: 2 writes', async () => {
    const { request, counts } = setup();
    await request('GET', (s) => s.flash('notice', 'hi'));
    counts.reset();
    const shown = await request('GET', (s) => s.flash('notice'));
    expect(shown.result).toBe('hi');
    expect([counts.reads(), counts.writes()]).toEqual([1, 1]);
    await request('GET', (s) => s.flash('notice', 'again'));
    counts.reset();
    await request('GET', (s) => [s.flash('notice'), s.increment('visits')]);
    expect([counts.reads(), counts.writes()]).toEqual([1, 2]);
  });

  it('form POST with csrf: the token is used in the load write; a pending flash goes in the same write', async () => {
    const { request, counts } = setup({ csrf: true });
    const { result: token } = await request('GET', (s) => s.generateToken());
    counts.reset();
    await request('POST', () => undefined, { token });
    expect([counts.reads(), counts.writes()]).toEqual([1, 1]);

    const { result: second } = await request('GET', (s) => [s.generateToken(), s.flash('notice', 'x')][0] as string);
    counts.reset();
    const post = await request('POST', (s) => s.flash('notice'), { token: second });
    expect(post.result).toBe('x');
    expect([counts.reads(), counts.writes()]).toEqual([1, 1]);
    // A POST that also changes the session writes its change at commit: 2 writes.
    const { result: third } = await request('GET', (s) => s.generateToken());
    counts.reset();
    await request('POST', (s) => s.increment('submits'), { token: third });
    expect([counts.reads(), counts.writes()]).toEqual([1, 2]);
  });

  it('a refused CSRF token stops the request in begin; a used token is refused the second time', async () => {
    const { request } = setup({ csrf: true });
    const { result: token } = await request('GET', (s) => s.generateToken());
    await expect(request('POST', () => 'ran', { token: 'x'.repeat(43) })).rejects.toMatchObject({ code: 'E_CSRF', status: 403 });
    await expect(request('POST', () => 'ran')).rejects.toMatchObject({ code: 'E_CSRF', reason: 'missing-token' });
    expect((await request('POST', () => 'ran', { token })).result).toBe('ran');
    await expect(request('POST', () => 'ran', { token })).rejects.toMatchObject({ code: 'E_CSRF', reason: 'invalid-token' });
  });
});

describe('the request lifecycle: commit-on-error', () => {
  it('by default a failed request (an error, or a 5xx) writes none of its changes', async () => {
    const { request } = setup();
    await request('GET', (s) => s.put('a', 1));
    await request('GET', (s) => s.put('a', 2), { status: 500 });
    await request('GET', (s) => s.put('a', 3), { error: new Error('boom') });
    expect((await request('GET', (s) => s.get('a'))).result).toBe(1);
  });

  it('with commitOnError the changes of a failed request are written', async () => {
    const { request } = setup({ commitOnError: true });
    await request('GET', (s) => s.put('a', 1));
    await request('GET', (s) => s.put('a', 2), { status: 500 });
    expect((await request('GET', (s) => s.get('a'))).result).toBe(2);
  });
});

describe('the request lifecycle: regenerate', () => {
  it('a sign-in regenerate racing "sign out everywhere" ends signed out, and the session does not come back', async () => {
    const { manager, lifecycle, request } = setup();
    const first = await request('GET', (s) => s.setUser('ada').put('cart', ['x']));
    const cookie = `${first.set!.name}=${first.set!.value}`;
    const signIn = await lifecycle.begin({ method: 'POST', header: (n) => (n === 'cookie' ? cookie : undefined) });
    signIn.session.regenerateId(true);
    expect(await manager.destroySessions('ada')).toBe(1);
    const set = await signIn.finish({ status: 302 });
    expect(set).toMatchObject({ value: '', options: { maxAge: 0 } });
    expect(await manager.listSessions('ada')).toEqual([]);
  });

  it('regenerate keeps an overlapping change made on the old id, or that change fails visibly', async () => {
    const { lifecycle, request } = setup();
    const first = await request('GET', (s) => s.put('n', 0));
    const cookie = `${first.set!.name}=${first.set!.value}`;
    const exchange: Exchange = { method: 'GET', header: (n) => (n === 'cookie' ? cookie : undefined) };
    const [signIn, other] = await Promise.all([lifecycle.begin(exchange), lifecycle.begin(exchange)]);
    signIn.session.regenerateId(true);
    other.session.increment('n');
    const moved = await signIn.finish();
    await expect(other.finish()).rejects.toMatchObject({ code: 'E_SESSION_GONE', status: 409 });
    const after = await lifecycle.begin({ method: 'GET', header: (n) => (n === 'cookie' ? `${moved!.name}=${moved!.value}` : undefined) });
    expect(after.session.get('n')).toBe(0);
  });

  it('the commit result is a structured cookie and its header text', async () => {
    const { request } = setup();
    const { set } = await request('GET', (s) => s.put('a', 1));
    expect(set).toMatchObject({ name: 'sess', options: { path: '/', httpOnly: true, secure: false, sameSite: 'lax' } });
    expect(set!.header.startsWith(`sess=${set!.value}; Path=/`)).toBe(true);
  });
});

describe('errorResponse', () => {
  it('shows a 4xx sess message, and only the status text from 500 on', () => {
    const store = new StoreError('[sess] the session store failed to write: ENOENT /var/secret/sessions/ab/cd. Check...', { cause: new Error('ENOENT') });
    expect(errorResponse(store)).toMatchObject({ status: 503, body: 'Service Unavailable' });
    expect(errorResponse(new Error('relation "sessions" does not exist'))).toMatchObject({ status: 500, body: 'Internal Server Error' });
    const refused = errorResponse(Object.assign(new Error('[sess] CSRF token missing'), { code: 'E_CSRF', status: 403 }));
    expect(refused).toMatchObject({ status: 403, body: '[sess] CSRF token missing' });
    expect(errorResponse(store).headers['content-type']).toMatch(/^text\/plain/);
  });
});

describe('the request lifecycle: two sign-ins of one session at once', () => {
  it('the first moves the session; the second fails visibly (409) and leaves the first one\'s cookie alone', async () => {
    const { lifecycle, request } = setup();
    const first = await request('GET', (s) => s.put('cart', ['x']));
    const cookie = `${first.set!.name}=${first.set!.value}`;
    const exchange: Exchange = { method: 'POST', header: (n) => (n === 'cookie' ? cookie : undefined) };
    const [a, b] = await Promise.all([lifecycle.begin(exchange), lifecycle.begin(exchange)]);
    a.session.regenerateId(true);
    b.session.regenerateId(true);
    const moved = await a.finish();
    expect(moved?.value).not.toBe('');
    await expect(b.finish()).rejects.toMatchObject({ code: 'E_SESSION_GONE', status: 409 });
  });
});
