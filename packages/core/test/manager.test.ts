import { createHmac, randomBytes } from 'node:crypto';
import { Verifier, toKey } from '../src/signature.js';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError, CsrfError, MemoryStore, SessionError, SessionManager, StoreError, ValueError, createCsrfCheck, managerOf, toManager, type Store } from '../src/index.js';
import type { SessionManagerOptions } from '../src/index.js';
import { TestClient, countStoreCalls, testSecret } from '../src/testing.js';

/** A real MemoryStore that counts every call made to it. */
function countingStore(inner = new MemoryStore({ sweepInterval: 0 })) {
  const { store, counts } = countStoreCalls(inner);
  const total = () => Object.values(counts.calls).reduce((a, b) => a + b, 0);
  return { store, calls: counts.calls, total, reset: counts.reset, inner };
}

const secret = testSecret();
const make = (options: Partial<SessionManagerOptions> = {}) =>
  new SessionManager({ secret, store: new MemoryStore({ sweepInterval: 0 }), cookie: { secure: false }, ...options });

async function signedInClient(manager: SessionManager) {
  const client = new TestClient(manager);
  const first = await client.request((s) => s.put('user', 'ada'));
  return { client, id: first.session.id, cookie: client.cookie! };
}

describe('loading a cookie', () => {
  it('no cookie gives a fresh empty session with a new id', async () => {
    const manager = make();
    const a = await manager.load(undefined);
    const b = await manager.load('');
    expect(a.isNew && b.isNew).toBe(true);
    expect(a.all()).toEqual({});
    expect(a.id).not.toBe(b.id);
  });

  it('a valid cookie among other cookies loads the session', async () => {
    const manager = make();
    const { id, cookie } = await signedInClient(manager);
    const session = await manager.load(`theme=dark; ${cookie}; other=1`);
    expect(session.id).toBe(id);
    expect(session.get('user')).toBe('ada');
  });

  it('a cookie whose name only ends with ours is not ours', async () => {
    const manager = make();
    const { id, cookie } = await signedInClient(manager);
    expect((await manager.load(`x${cookie}`)).id).not.toBe(id);
    expect((await manager.load(`x${cookie}; ${cookie}`)).id).toBe(id);
  });

  it('with several cookies of our name, the first one that verifies wins', async () => {
    const manager = make();
    const { id, cookie } = await signedInClient(manager);
    const session = await manager.load(`sess=garbage; ${cookie}`);
    expect(session.id).toBe(id);
  });

  const tamperings: Array<[string, (cookie: string) => string]> = [
    ['one flipped byte in the signature', (c) => c.slice(0, -5) + (c.at(-5) === 'A' ? 'B' : 'A') + c.slice(-4)],
    ['one flipped byte in the id', (c) => c.slice(0, 6) + (c[6] === 'A' ? 'B' : 'A') + c.slice(7)],
    ['a truncated signature', (c) => c.slice(0, -1)],
    ['extra characters after a valid signature', (c) => `${c}x`],
    ['no signature', (c) => c.slice(0, c.indexOf('.'))],
    ['an empty value', () => 'sess='],
    ['random bytes', () => `sess=${Buffer.from([0, 255, 10, 59, 61]).toString('latin1')}`],
    ['percent-encoding', (c) => c.replace('.', '%2E')],
    ['a path in the id', () => `sess=../../etc/passwd.${'A'.repeat(43)}`],
    ['non-canonical base64url in the signature', (c) => c.slice(0, -1) + (c.endsWith('A') ? 'B' : 'A')],
  ];

  it.each(tamperings)('%s gives a fresh session without reading the store', async (_, tamper) => {
    const counting = countingStore();
    const manager = make({ store: counting.store });
    const { id, cookie } = await signedInClient(manager);
    counting.reset();
    const session = await manager.load(tamper(cookie));
    expect(session.isNew).toBe(true);
    expect(session.id).not.toBe(id);
    expect(counting.total()).toBe(0);
  });

  it('a cookie signed with an unknown secret gives a fresh session without reading the store', async () => {
    const counting = countingStore();
    const stranger = make({ store: counting.store, secret: testSecret() });
    const { cookie } = await signedInClient(stranger);
    const manager = make({ store: counting.store });
    counting.reset();
    const session = await manager.load(cookie);
    expect(session.isNew).toBe(true);
    expect(counting.total()).toBe(0);
  });

  it('a correctly signed id the store does not know gives a fresh session with another id (no fixation)', async () => {
    const counting = countingStore();
    const manager = make({ store: counting.store });
    const chosen = 'A'.repeat(43);
    const signature = createHmac('sha256', secret).update(chosen).digest('base64url');
    counting.reset();
    const session = await manager.load(`sess=${chosen}.${signature}`);
    expect(counting.calls.get).toBe(1);
    expect(session.isNew).toBe(true);
    expect(session.id).not.toBe(chosen);
    session.put('x', 1);
    const setCookie = await manager.commit(session);
    expect(setCookie).not.toContain(chosen);
    expect(await counting.inner.get(chosen)).toBeUndefined();
  });

  it('an id of the wrong shape is refused even when signed correctly', async () => {
    const counting = countingStore();
    const manager = make({ store: counting.store });
    for (const id of ['short', 'A'.repeat(42), 'A'.repeat(44), `${'A'.repeat(42)}/`, '../'.repeat(15)]) {
      const signature = createHmac('sha256', secret).update(id).digest('base64url');
      const session = await manager.load(`sess=${id}.${signature}`);
      expect(session.isNew).toBe(true);
    }
    expect(counting.total()).toBe(0);
  });

  it('a huge cookie header is handled without reading the store', async () => {
    const counting = countingStore();
    const manager = make({ store: counting.store });
    const header = Array.from({ length: 5_000 }, (_, i) => `sess=${i}`).join('; ');
    const session = await manager.load(header);
    expect(session.isNew).toBe(true);
    expect(counting.total()).toBe(0);
  });
});

describe('secrets', () => {
  it('a secret shorter than 32 bytes is a ConfigError at construction', () => {
    expect(() => new SessionManager({ secret: 'x'.repeat(31) })).toThrow(ConfigError);
    expect(() => new SessionManager({ secret: [testSecret(), 'short'] })).toThrow(/at least 32 bytes/);
    expect(() => new SessionManager({ secret: [] })).toThrow(ConfigError);
    expect(() => new SessionManager({ secret: undefined as unknown as string })).toThrow(ConfigError);
  });

  it('rotation: signs with the first secret, accepts the others, and re-issues old cookies signed with the new one', async () => {
    const store = new MemoryStore({ sweepInterval: 0 });
    const [oldSecret, newSecret] = [testSecret(), testSecret()];
    const before = new SessionManager({ secret: oldSecret, store, cookie: { secure: false } });
    const { id, cookie } = await signedInClient(before);
    const after = new SessionManager({ secret: [newSecret, oldSecret], store, cookie: { secure: false } });
    const session = await after.load(cookie);
    expect(session.id).toBe(id);
    expect(session.get('user')).toBe('ada');
    const reissued = await after.commit(session);
    const expected = createHmac('sha256', newSecret).update(id).digest('base64url');
    expect(reissued).toContain(`sess=${id}.${expected};`);
    // Once the old secret is removed, a cookie signed with it is refused (no adoption).
    const only = new SessionManager({ secret: newSecret, store, cookie: { secure: false } });
    const refused = await only.load(cookie);
    expect(refused.isNew).toBe(true);
    expect(refused.id).not.toBe(id);
    expect((await only.load(reissued!.split(';')[0])).id).toBe(id);
  });
});

describe('verified cookie values remembered (Verifier)', () => {
  const signed = (id: string, key: string) => `${id}.${createHmac('sha256', key).update(id).digest('base64url')}`;
  const anId = () => randomBytes(32).toString('base64url');

  it('remembers only values that verified, refuses a forged value every time, and stays bounded', () => {
    const key = testSecret();
    const verifier = new Verifier([toKey(key)], 3);
    const id = anId();
    const good = signed(id, key);
    const forged = `${good.slice(0, -2)}${good.at(-2) === 'A' ? 'B' : 'A'}${good.at(-1)}`;
    expect(verifier.verify(good)).toEqual({ id, secretIndex: 0 });
    expect(verifier.verify(good)).toEqual({ id, secretIndex: 0 }); // remembered
    expect(verifier.size).toBe(1);
    for (let i = 0; i < 3; i++) expect(verifier.verify(forged)).toBeUndefined();
    expect(verifier.verify(`${anId()}.${anId()}`)).toBeUndefined();
    expect(verifier.size).toBe(1); // nothing unverified enters
    const others = Array.from({ length: 5 }, () => signed(anId(), key));
    for (const value of others) expect(verifier.verify(value)?.id).toBe(value.slice(0, 43));
    expect(verifier.size).toBe(3); // the oldest forgotten
    expect(verifier.verify(good)).toEqual({ id, secretIndex: 0 }); // checked again, still valid
  });

  it('an old-secret cookie is re-signed on every request, not only the first one it was verified on', async () => {
    const store = new MemoryStore({ sweepInterval: 0 });
    const [oldSecret, newSecret] = [testSecret(), testSecret()];
    const { id, cookie } = await signedInClient(new SessionManager({ secret: oldSecret, store, cookie: { secure: false } }));
    const after = new SessionManager({ secret: [newSecret, oldSecret], store, cookie: { secure: false } });
    for (let i = 0; i < 3; i++) {
      const session = await after.load(cookie);
      expect(session.id).toBe(id);
      expect(await after.commit(session)).toContain(`sess=${signed(id, newSecret)};`);
    }
  });

  it('a tampered cookie is refused after the genuine one was seen, and reads nothing from the store', async () => {
    const counting = countingStore();
    const manager = make({ store: counting.store });
    const { cookie, id } = await signedInClient(manager);
    expect((await manager.load(cookie)).id).toBe(id);
    const before = counting.total();
    const value = cookie.slice(cookie.indexOf('=') + 1);
    for (const tampered of [`${value.slice(0, 10)}${value[10] === 'x' ? 'y' : 'x'}${value.slice(11)}`, `${value.slice(0, -1)}${value.at(-1) === 'A' ? 'E' : 'A'}`, value.slice(0, -1), `${value}A`]) {
      expect((await manager.load(`sess=${tampered}`)).isNew).toBe(true);
    }
    expect(counting.total()).toBe(before);
  });
});

describe('ids', () => {
  it('are 32 CSPRNG bytes in base64url, and 100,000 are distinct', async () => {
    const manager = make();
    const ids = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const session = await manager.load(undefined);
      ids.add(session.id);
    }
    expect(ids.size).toBe(100_000);
    for (const id of [...ids].slice(0, 100)) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(id, 'base64url')).toHaveLength(32);
    }
  });
});

describe('cookie attributes', () => {
  const cookieOf = async (options: ConstructorParameters<typeof SessionManager>[0]['cookie'], env?: string) => {
    const previous = process.env.NODE_ENV;
    if (env !== undefined) process.env.NODE_ENV = env;
    try {
      const manager = new SessionManager({ secret, store: new MemoryStore({ sweepInterval: 0 }), cookie: options });
      const session = await manager.load(undefined);
      session.put('a', 1);
      return (await manager.commit(session))!;
    } finally {
      process.env.NODE_ENV = previous;
    }
  };

  it('defaults to HttpOnly; SameSite=Lax; Path=/ and Secure outside development', async () => {
    const prod = await cookieOf(undefined, 'production');
    expect(prod).toMatch(/^sess=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    const dev = await cookieOf(undefined, 'development');
    expect(dev).not.toContain('Secure');
    expect(dev).toContain('HttpOnly');
  });

  it('supports domain, maxAge, strict, partitioned and a __Host- name', async () => {
    const c = await cookieOf({ name: '__Host-sid', secure: true, partitioned: true, sameSite: 'strict', maxAge: 3600 });
    expect(c).toMatch(/^__Host-sid=\S+; Max-Age=3600; Path=\/; HttpOnly; Secure; SameSite=Strict; Partitioned$/);
    expect(await cookieOf({ domain: 'example.com', secure: false, httpOnly: false, sameSite: false })).toMatch(/; Path=\/; Domain=example\.com$/);
  });

  it('refuses __Host- names with a Domain, a Path other than / or no Secure', () => {
    expect(() => make({ cookie: { name: '__Host-sid', secure: true, domain: 'example.com' } })).toThrow(ConfigError);
    expect(() => make({ cookie: { name: '__Host-sid', secure: true, path: '/app' } })).toThrow(/__Host-/);
    expect(() => make({ cookie: { name: '__Host-sid', secure: false } })).toThrow(ConfigError);
    expect(() => make({ cookie: { name: '__Secure-sid', secure: false } })).toThrow(ConfigError);
  });

  it('refuses values containing ";" or control characters, and bad names', () => {
    expect(() => make({ cookie: { path: '/; Domain=evil.com' } })).toThrow(ConfigError);
    expect(() => make({ cookie: { domain: 'example.com\r\nSet-Cookie: x=1' } })).toThrow(ConfigError);
    expect(() => make({ cookie: { name: 'bad name' } })).toThrow(ConfigError);
    expect(() => make({ cookie: { name: 'a;b' } })).toThrow(ConfigError);
    expect(() => make({ cookie: { sameSite: 'none', secure: false } })).toThrow(ConfigError);
  });
});

describe('writes', () => {
  it('an untouched new session is neither stored nor given a cookie', async () => {
    const counting = countingStore();
    const manager = make({ store: counting.store });
    const session = await manager.load(undefined);
    session.get('x');
    session.has('y');
    expect(await manager.commit(session)).toBeUndefined();
    expect(counting.total()).toBe(0);
  });

  it('saveUninitialized stores and sends a cookie for an empty new session', async () => {
    const counting = countingStore();
    const manager = make({ store: counting.store, saveUninitialized: true });
    const session = await manager.load(undefined);
    expect(await manager.commit(session)).toMatch(/^sess=/);
    expect(counting.calls.set).toBe(1);
  });

  it('an unchanged existing session costs one read and no write', async () => {
    const counting = countingStore();
    const manager = make({ store: counting.store });
    const { client } = await signedInClient(manager);
    counting.reset();
    const { setCookie } = await client.request((s) => s.get('user'));
    expect(setCookie).toBeUndefined();
    expect(counting.calls).toEqual({ get: 1 });
  });

  it('a changed session is written once per request, however many changes', async () => {
    const counting = countingStore();
    const manager = make({ store: counting.store });
    const { client } = await signedInClient(manager);
    counting.reset();
    await client.request((s) => {
      for (let i = 0; i < 10; i++) s.put(`k${i}`, i);
      s.increment('n');
      s.flash('f', 1);
      s.generateToken();
    });
    expect(counting.calls).toEqual({ get: 1, update: 1 });
  });

  it('rolling expiry refreshes with one small write only after touchAfter has passed', async () => {
    let now = 1_000_000;
    const counting = countingStore(new MemoryStore({ sweepInterval: 0, clock: () => now }));
    const manager = make({ store: counting.store, clock: () => now, idleTimeout: 600, touchAfter: 60 });
    const { client } = await signedInClient(manager);
    counting.reset();
    now += 30_000;
    await client.request((s) => s.get('user'));
    expect(counting.calls).toEqual({ get: 1 });
    now += 31_000;
    await client.request((s) => s.get('user'));
    expect(counting.calls).toEqual({ get: 2, update: 1 });
  });

  it('commit called twice writes once and returns the same cookie', async () => {
    const counting = countingStore();
    const manager = make({ store: counting.store });
    const session = await manager.load(undefined);
    session.put('a', 1);
    const [a, b] = await Promise.all([manager.commit(session), manager.commit(session)]);
    expect(a).toBe(b);
    expect(counting.calls.set).toBe(1);
  });

  it('a maxAge cookie is re-sent when rolling refreshes it', async () => {
    let now = 1_000_000;
    const manager = make({ clock: () => now, store: new MemoryStore({ sweepInterval: 0, clock: () => now }), cookie: { secure: false, maxAge: 600 }, idleTimeout: 600 });
    const { client } = await signedInClient(manager);
    now += 120_000;
    const { setCookie } = await client.request((s) => s.get('user'));
    expect(setCookie).toMatch(/Max-Age=600/);
  });
});

describe('timeouts', () => {
  function clocked(options: { idleTimeout?: number; absoluteTimeout?: number } = {}) {
    const clock = { now: 1_700_000_000_000 };
    const store = new MemoryStore({ sweepInterval: 0, clock: () => clock.now });
    const manager = new SessionManager({ secret, store, cookie: { secure: false }, clock: () => clock.now, ...options });
    return { clock, store, manager, client: new TestClient(manager) };
  }

  it('have OWASP-minded defaults: 30 minutes idle, 8 hours absolute', () => {
    const manager = make();
    expect(manager.idleTimeout).toBe(1800);
    expect(manager.absoluteTimeout).toBe(28800);
  });

  it('a session idle for longer than idleTimeout is deleted and replaced by a fresh one', async () => {
    const { clock, manager, client } = clocked({ idleTimeout: 60 });
    const first = await client.request((s) => s.put('user', 'ada'));
    clock.now += 59_000;
    expect((await client.request((s) => s.get('user'))).result).toBe('ada');
    clock.now += 61_000;
    // The store's own expiry must not hide the server-side check: use a store without expiry.
    const next = await client.request((s) => [s.isNew, s.get('user')]);
    expect(next.result).toEqual([true, undefined]);
    expect(next.session.id).not.toBe(first.session.id);
    expect(await manager.store.get(first.session.id)).toBeUndefined();
  });

  it('the idle check uses the timestamps in the record, even when the store still has it', async () => {
    const clock = { now: 1_700_000_000_000 };
    const forever = new MemoryStore({ sweepInterval: 0 }); // real clock: its expiry never runs out here
    const manager = new SessionManager({ secret, store: forever, cookie: { secure: false }, clock: () => clock.now, idleTimeout: 60 });
    const client = new TestClient(manager);
    const first = await client.request((s) => s.put('user', 'ada'));
    clock.now += 61_000;
    expect(await forever.get(first.session.id)).toBeDefined();
    expect((await client.request((s) => s.isNew)).result).toBe(true);
    expect(await forever.get(first.session.id)).toBeUndefined();
  });

  it('activity keeps an idle timeout from running out, but not the absolute one', async () => {
    const { clock, client } = clocked({ idleTimeout: 600, absoluteTimeout: 3600 });
    const first = await client.request((s) => s.put('user', 'ada'));
    for (let minutes = 5; minutes < 60; minutes += 5) {
      clock.now += 5 * 60_000;
      const r = await client.request((s) => s.get('user'));
      expect(r.result).toBe('ada');
      expect(r.session.id).toBe(first.session.id);
    }
    clock.now += 5 * 60_000 + 1;
    expect((await client.request((s) => [s.isNew, s.get('user')])).result).toEqual([true, undefined]);
  });

  it('a cookie cannot extend a session: timeouts come from the stored record only', async () => {
    const { clock, client } = clocked({ idleTimeout: 60 });
    await client.request((s) => s.put('user', 'ada'));
    const cookie = client.cookie;
    clock.now += 120_000;
    const replay = new TestClient(client.manager);
    replay.cookie = cookie;
    expect((await replay.request((s) => s.isNew)).result).toBe(true);
  });

  it('expiresAt reports the nearer of the two deadlines', async () => {
    const { clock, client } = clocked({ idleTimeout: 600, absoluteTimeout: 3600 });
    const start = clock.now;
    const { session } = await client.request((s) => s.put('a', 1));
    expect(session.expiresAt).toBe(start + 600_000);
  });
});

describe('concurrency', () => {
  it('two overlapping requests that change different keys both survive', async () => {
    const manager = make();
    const { client } = await signedInClient(manager);
    const a = await manager.load(client.cookie);
    const b = await manager.load(client.cookie);
    a.put('fromA', 1);
    b.put('fromB', 2);
    await manager.commit(a);
    await manager.commit(b);
    expect((await client.request((s) => s.all())).result).toEqual({ user: 'ada', fromA: 1, fromB: 2 });
  });

  it('50 overlapping increments give 50', async () => {
    const manager = make();
    const { client } = await signedInClient(manager);
    const sessions = await Promise.all(Array.from({ length: 50 }, () => manager.load(client.cookie)));
    for (const s of sessions) s.increment('n');
    await Promise.all(sessions.map((s) => manager.commit(s)));
    expect((await client.request((s) => s.get('n'))).result).toBe(50);
  });

  it('a request that finishes after another destroyed the session does not bring it back', async () => {
    const manager = make();
    const { client, id } = await signedInClient(manager);
    const slow = await manager.load(client.cookie);
    await client.request((s) => s.destroy());
    slow.put('late', true);
    // Signed out: the late change goes with the session, quietly, and nothing comes back.
    expect(await manager.commit(slow)).toBeUndefined();
    expect(await manager.store.get(id)).toBeUndefined();
    const reader = await manager.load(client.cookie);
    expect(reader.isNew).toBe(true);
  });

  it('a request that changed a session another request regenerated meanwhile fails visibly (409); one that only read ends quietly', async () => {
    const manager = make();
    const { client } = await signedInClient(manager);
    const [slow, reader, signIn] = await Promise.all([manager.load(client.cookie), manager.load(client.cookie), manager.load(client.cookie)]);
    signIn.regenerateId(true);
    await manager.commit(signIn);
    slow.put('late', true);
    await expect(manager.commit(slow)).rejects.toMatchObject({ name: 'SessionGoneError', code: 'E_SESSION_GONE', status: 409 });
    reader.get('user');
    expect(await manager.commit(reader)).toBeUndefined();
    // A second sign-in of the same old session fails visibly too, and leaves the first one's cookie alone.
    const twice = await manager.load(client.cookie);
    expect(twice.isNew).toBe(true); // the old id reads as absent
  });

  it('a flash value is delivered to exactly one of two overlapping requests', async () => {
    const manager = make();
    const { client } = await signedInClient(manager);
    await client.request((s) => s.flash('msg', 'once'));
    const [a, b] = await Promise.all([manager.load(client.cookie), manager.load(client.cookie)]);
    expect([a.flash('msg'), b.flash('msg')].filter(Boolean)).toEqual(['once']);
  });

  it('consumeToken passes exactly one of overlapping uses of one token', async () => {
    const manager = make();
    const { client } = await signedInClient(manager);
    const { result: token } = await client.request((s) => s.generateToken());
    const sessions = await Promise.all(Array.from({ length: 5 }, () => manager.load(client.cookie)));
    const results = await Promise.all(sessions.map((s) => manager.consumeToken(s, token)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await manager.consumeToken(await manager.load(client.cookie), token)).toBe(false);
  });

  it('refuses a store without update() or rotate() (contract v2: no silent non-atomic fallback)', () => {
    const inner = new MemoryStore({ sweepInterval: 0 });
    const v1 = { get: (id: string) => inner.get(id), set: inner.set.bind(inner), destroy: inner.destroy.bind(inner), update: inner.update.bind(inner) } as unknown as Store;
    expect(() => make({ store: v1 })).toThrow(ConfigError);
    expect(() => make({ store: v1 })).toThrow(/no rotate\(\) method.*casStore\(\) from @sess\/core\/store/);
  });
});

describe('store failures', () => {
  function failing(mode: 'throw' | 'reject' | 'hang') {
    const inner = new MemoryStore({ sweepInterval: 0 });
    let broken = false;
    const fail = <T>(run: () => Promise<T>): Promise<T> => {
      if (!broken) return run();
      if (mode === 'throw') throw new Error('ECONNREFUSED');
      if (mode === 'reject') return Promise.reject(new Error('ECONNREFUSED'));
      return new Promise<T>(() => {});
    };
    const store: Store = {
      get: (id) => fail(() => inner.get(id)),
      set: (id, r, t) => fail(() => inner.set(id, r, t)),
      destroy: (id) => fail(() => inner.destroy(id)),
      update: (id, c, t, e) => fail(() => inner.update(id, c, t, e)),
      rotate: (from, to, c, t, e) => fail(() => inner.rotate(from, to, c, t, e)),
    };
    return { store, inner, breakIt: () => (broken = true), fixIt: () => (broken = false) };
  }

  it.each(['throw', 'reject'] as const)('a store that fails (%s) surfaces StoreError with its cause from load and commit, never a fresh session', async (mode) => {
    const { store, breakIt } = failing(mode);
    const manager = make({ store });
    const { client } = await signedInClient(manager);
    const loaded = await manager.load(client.cookie);
    breakIt();
    const err = await manager.load(client.cookie).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toBeInstanceOf(SessionError);
    expect((err as StoreError).code).toBe('E_STORE');
    expect((err as StoreError).status).toBe(503);
    expect((err as StoreError).message).toMatch(/^\[sess\] the session store failed to read the session: ECONNREFUSED/);
    expect(((err as StoreError).cause as Error).message).toBe('ECONNREFUSED');
    loaded.put('x', 1);
    await expect(manager.commit(loaded)).rejects.toBeInstanceOf(StoreError);
  });

  it('a store that hangs times out with a StoreError after storeTimeout', async () => {
    const { store, breakIt } = failing('hang');
    const manager = make({ store, storeTimeout: 100 });
    const { client } = await signedInClient(manager);
    breakIt();
    const started = Date.now();
    await expect(manager.load(client.cookie)).rejects.toMatchObject({ name: 'StoreError', code: 'E_STORE_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('overlapping calls that hang each time out on their own deadline, none early', async () => {
    const { store, breakIt } = failing('hang');
    const manager = make({ store, storeTimeout: 150 });
    const { client } = await signedInClient(manager);
    breakIt();
    const started = Date.now();
    const settledAt = (p: Promise<unknown>) => p.then(() => Infinity, () => Date.now() - started);
    const first = settledAt(manager.load(client.cookie));
    await new Promise((r) => setTimeout(r, 100));
    const second = settledAt(manager.load(client.cookie));
    const [a, b] = await Promise.all([first, second]);
    expect(a).toBeGreaterThanOrEqual(140);
    expect(b).toBeGreaterThanOrEqual(240); // its own 150 ms, not the first call's timer
    expect(b - a).toBeGreaterThanOrEqual(80);
  });

  it('calls that settle never time out later, and the timeout still fires with Date and performance frozen', async () => {
    const { store, breakIt } = failing('hang');
    const manager = make({ store, storeTimeout: 80 });
    const { client } = await signedInClient(manager);
    for (let i = 0; i < 50; i++) await manager.load(client.cookie); // settled calls: nothing fires for them
    await new Promise((r) => setTimeout(r, 120));
    await expect(manager.load(client.cookie)).resolves.toBeDefined();
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    try {
      breakIt();
      const hung = [manager.load(client.cookie), manager.load(client.cookie)].map((p) => p.then(() => 'loaded', (e: StoreError) => e.code));
      expect(await Promise.all(hung)).toEqual(['E_STORE_TIMEOUT', 'E_STORE_TIMEOUT']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('times out under fake timers installed after a call armed a real timer, and under real timers after fake ones', async () => {
    const { store, breakIt, fixIt } = failing('hang');
    const manager = make({ store, storeTimeout: 1000 });
    const { client } = await signedInClient(manager); // arms the shared timer with the real setTimeout
    vi.useFakeTimers();
    try {
      breakIt();
      const hung = manager.load(client.cookie).then(() => 'loaded', (e: StoreError) => e.code);
      await vi.advanceTimersByTimeAsync(1000);
      expect(await hung).toBe('E_STORE_TIMEOUT');
      fixIt();
      await manager.load(client.cookie); // a timer armed with the fake setTimeout, never advanced
    } finally {
      vi.useRealTimers();
    }
    breakIt();
    const started = Date.now();
    await expect(manager.load(client.cookie)).rejects.toMatchObject({ code: 'E_STORE_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('a pending store call keeps the process alive until its timeout; settled calls leave nothing that does', async () => {
    const { execFileSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const core = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const script = (hang: boolean) => `
      const { SessionManager, MemoryStore } = await import(${JSON.stringify(core)});
      const inner = new MemoryStore({ sweepInterval: 0 });
      const store = { get: (id) => ${hang} ? new Promise(() => {}) : inner.get(id), set: (...a) => inner.set(...a), update: (...a) => inner.update(...a), rotate: (...a) => inner.rotate(...a), destroy: (id) => inner.destroy(id) };
      const manager = new SessionManager({ secret: 'x'.repeat(32), store, storeTimeout: ${hang ? 300 : 60_000} });
      const s = await manager.load(undefined); s.put('a', 1); const cookie = await manager.commitCookie(s);
      const started = Date.now();
      await manager.load(cookie.name + '=' + cookie.value).then(() => console.log('loaded'), (e) => console.log(e.code, Date.now() - started >= 250));
    `;
    const run = (hang: boolean) => execFileSync(process.execPath, ['--input-type=module', '-e', script(hang)], { encoding: 'utf8', timeout: 20_000 }).trim();
    const started = Date.now();
    expect(run(false)).toBe('loaded');
    expect(Date.now() - started).toBeLessThan(15_000); // not held for the 60 s storeTimeout
    expect(run(true)).toBe('E_STORE_TIMEOUT true');
  });

  it('the data survives an outage: after it, the same session is back intact', async () => {
    const { store, inner, breakIt } = failing('reject');
    const manager = make({ store });
    const { client, id } = await signedInClient(manager);
    breakIt();
    await expect(manager.load(client.cookie)).rejects.toBeInstanceOf(StoreError);
    expect((await inner.get(id))?.record.data).toEqual({ user: 'ada' });
  });
});

describe('configuration', () => {
  it('refuses a store without the contract methods and bad numbers', () => {
    expect(() => make({ store: {} as Store })).toThrow(/options.store has no get\(\) method/);
    expect(() => make({ idleTimeout: -1 })).toThrow(ConfigError);
    expect(() => make({ storeTimeout: 2 ** 31 })).toThrow(/storeTimeout must be at most 2147483647 ms/);
    expect(make({ storeTimeout: 2 ** 31 - 1 }).storeTimeout).toBe(2 ** 31 - 1);
    expect(() => make({ maxSize: 0 })).toThrow(ConfigError);
    expect(() => make({ storeTimeout: Number.NaN })).toThrow(ConfigError);
  });
});

describe('users', () => {
  it('lists a user\'s live sessions and signs out everywhere but here', async () => {
    const manager = make();
    const devices = [new TestClient(manager), new TestClient(manager), new TestClient(manager)];
    for (const [i, device] of devices.entries()) {
      await device.request((s) => {
        s.regenerateId();
        s.setUser('u1', { userAgent: `device ${i}` });
      });
    }
    const other = new TestClient(manager);
    await other.request((s) => s.setUser('u2'));
    const here = await manager.load(devices[0]!.cookie);
    const list = await manager.listSessions('u1', { current: here });
    expect(list).toHaveLength(3);
    expect(list.filter((s) => s.current)).toHaveLength(1);
    expect(list.map((s) => s.details.userAgent).sort()).toEqual(['device 0', 'device 1', 'device 2']);
    expect(list[0]!.idPrefix).toHaveLength(8);
    expect(await manager.destroySessions('u1', { except: here })).toBe(2);
    expect((await devices[1]!.request((s) => s.isNew)).result).toBe(true);
    expect((await devices[0]!.request((s) => s.user)).result).toBe('u1');
    expect(await manager.listSessions('u2')).toHaveLength(1);
  });

  it('without a user index the error says what is missing', async () => {
    const inner = new MemoryStore({ sweepInterval: 0 });
    const plain: Store = { get: (id) => inner.get(id), set: (id, r, t) => inner.set(id, r, t), destroy: (id) => inner.destroy(id), update: (...a) => inner.update(...a), rotate: (...a) => inner.rotate(...a) };
    await expect(make({ store: plain }).listSessions('u')).rejects.toMatchObject({ code: 'E_UNSUPPORTED' });
  });
});

describe('createCsrfCheck', () => {
  async function prepared(options?: Parameters<typeof createCsrfCheck>[0]) {
    const manager = make();
    const client = new TestClient(manager);
    const { result: token } = await client.request((s) => s.generateToken());
    const check = createCsrfCheck(options);
    const run = async (method: string, headers: Record<string, string>, body?: unknown) => {
      const session = await manager.load(client.cookie);
      return check(manager, session, { method, header: (n) => headers[n], body });
    };
    return { run, token };
  }

  it('lets safe methods through without a token', async () => {
    const { run } = await prepared();
    for (const method of ['GET', 'HEAD', 'OPTIONS']) await expect(run(method, { 'sec-fetch-site': 'cross-site' })).resolves.toBeUndefined();
  });

  it('requires a token from the ring on unsafe methods, from the header or the _token field, once', async () => {
    const { run, token } = await prepared();
    await expect(run('POST', {})).rejects.toMatchObject({ name: 'CsrfError', reason: 'missing-token', status: 403 });
    await expect(run('PUT', { 'x-csrf-token': 'A'.repeat(43) })).rejects.toMatchObject({ reason: 'invalid-token' });
    await expect(run('POST', {}, { _token: token })).resolves.toBeUndefined();
    await expect(run('DELETE', { 'x-csrf-token': token })).rejects.toBeInstanceOf(CsrfError);
  });

  it('applies Fetch Metadata first, then the Origin header', async () => {
    const { run, token } = await prepared({ origins: ['https://admin.example.com'] });
    await expect(run('POST', { 'sec-fetch-site': 'cross-site', 'x-csrf-token': token })).rejects.toMatchObject({ reason: 'cross-site' });
    await expect(run('POST', { 'sec-fetch-site': 'same-site', 'x-csrf-token': token })).rejects.toMatchObject({ reason: 'cross-site' });
    await expect(run('POST', { origin: 'https://evil.example', host: 'app.example.com', 'x-csrf-token': token })).rejects.toMatchObject({ reason: 'origin-mismatch' });
    await expect(run('POST', { origin: 'null', host: 'app.example.com', 'x-csrf-token': token })).rejects.toMatchObject({ reason: 'origin-mismatch' });
    await expect(run('POST', { origin: 'https://app.example.com', host: 'app.example.com', 'x-csrf-token': token })).resolves.toBeUndefined();
  });

  it('accepts same-site when allowed, configured origins, and same-origin', async () => {
    const first = await prepared({ allowSameSite: true });
    await expect(first.run('POST', { 'sec-fetch-site': 'same-site', 'x-csrf-token': first.token })).resolves.toBeUndefined();
    const second = await prepared({ origins: ['https://admin.example.com/'] });
    await expect(second.run('PATCH', { 'sec-fetch-site': 'cross-site', origin: 'https://admin.example.com', 'x-csrf-token': second.token })).resolves.toBeUndefined();
    const third = await prepared();
    await expect(third.run('POST', { 'sec-fetch-site': 'same-origin', 'x-csrf-token': third.token })).resolves.toBeUndefined();
  });

  it('never reads the token from anywhere but the header and the body field', async () => {
    const { run, token } = await prepared();
    await expect(run('POST', { cookie: `_token=${token}`, 'x-other': token }, { token })).rejects.toMatchObject({ reason: 'missing-token' });
  });
});

describe('managerOf and toManager', () => {
  it('managerOf finds the manager that loaded a session, and nothing for anything else', async () => {
    const manager = make();
    const session = await manager.load(undefined);
    expect(managerOf(session)).toBe(manager);
    expect(managerOf(undefined)).toBeUndefined();
    expect(managerOf({} as never)).toBeUndefined();
  });

  it('toManager builds a manager from options and passes a manager through', () => {
    const manager = make();
    expect(toManager(manager)).toBe(manager);
    const built = toManager({ secret, cookie: { secure: false } });
    expect(built).toBeInstanceOf(SessionManager);
    expect(() => toManager({ secret: 'short' })).toThrow(ConfigError);
  });
});

describe('needsCookie and error names', () => {
  it('needsCookie is true only when this request created, regenerated or destroyed the session', async () => {
    const manager = make();
    const fresh = await manager.load(undefined);
    expect(fresh.needsCookie).toBe(false);
    fresh.put('a', 1);
    expect(fresh.needsCookie).toBe(true);
    await manager.commit(fresh);
    const cookie = (await manager.serializeCookie(fresh.id)).split(';')[0];
    const existing = await manager.load(cookie);
    existing.put('b', 2);
    expect(existing.needsCookie).toBe(false);
    existing.regenerateId();
    expect(existing.needsCookie).toBe(true);
    const other = await manager.load(cookie);
    other.destroy();
    expect(other.needsCookie).toBe(true);
  });

  it('error names survive minification: they are spelled out, not taken from the class', () => {
    const errors = [new SessionError('x', { code: 'E_STORE' }), new ConfigError('x'), new StoreError('x'), new CsrfError('x', 'missing-token'), new ValueError('x')];
    expect(errors.map((e) => e.name)).toEqual(['SessionError', 'ConfigError', 'StoreError', 'CsrfError', 'ValueError']);
    expect(errors.every((e) => e.message.startsWith('[sess] '))).toBe(true);
  });
});

describe('time', () => {
  it('follows fake timers installed after the manager was built (vi.useFakeTimers)', async () => {
    const manager = make({ idleTimeout: 60, store: new MemoryStore({ sweepInterval: 0 }) });
    const client = new TestClient(manager);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      await client.request((s) => s.put('user', 'ada'));
      vi.setSystemTime(Date.now() + 59_000);
      expect((await client.request((s) => s.get('user'))).result).toBe('ada');
      vi.setSystemTime(Date.now() + 61_000);
      expect((await client.request((s) => [s.isNew, s.get('user')])).result).toEqual([true, undefined]);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('needsCommit', () => {
  it('is false for an untouched session and true as soon as commit has work', async () => {
    let now = 1_000_000;
    const manager = make({ clock: () => now, store: new MemoryStore({ sweepInterval: 0, clock: () => now }), idleTimeout: 600, touchAfter: 60 });
    const fresh = await manager.load(undefined);
    expect(manager.needsCommit(fresh)).toBe(false);
    fresh.put('a', 1);
    expect(manager.needsCommit(fresh)).toBe(true);
    await manager.commit(fresh);
    const cookie = manager.serializeCookie(fresh.id).split(';')[0];
    const read = await manager.load(cookie);
    read.get('a');
    expect(manager.needsCommit(read)).toBe(false);
    now += 61_000; // rolling expiry due: commit will touch
    expect(manager.needsCommit(await manager.load(cookie))).toBe(true);
    const gone = await manager.load(cookie);
    gone.destroy();
    expect(manager.needsCommit(gone)).toBe(true);
  });
});
