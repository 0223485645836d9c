import { describe, expect, it } from 'vitest';
import { MemoryStore, SessionManager, ValueError } from '../src/index.js';
import type { SessionManagerOptions } from '../src/index.js';
import { TestClient, testSecret } from '../src/testing.js';

function setup(options: Partial<SessionManagerOptions> = {}) {
  const store = new MemoryStore({ sweepInterval: 0 });
  const manager = new SessionManager({ secret: testSecret(), store, cookie: { secure: false }, ...options });
  return { store, manager, client: new TestClient(manager) };
}

describe('session data', () => {
  it('get returns the default for a missing key, and undefined without one', async () => {
    const { client } = setup();
    const { result } = await client.request((s) => [s.get('missing', 'fallback'), s.get('missing'), s.has('missing')]);
    expect(result).toEqual(['fallback', undefined, false]);
  });

  it('put and set store values that the next request reads', async () => {
    const { client } = setup();
    await client.request((s) => {
      s.put('name', 'Ada');
      s.set('langs', ['en', 'fr']);
    });
    const { result } = await client.request((s) => [s.get('name'), s.get('langs'), s.has('name'), s.get('name', 'x')]);
    expect(result).toEqual(['Ada', ['en', 'fr'], true, 'Ada']);
  });

  it('a stored falsy value is present, not the default', async () => {
    const { client } = setup();
    await client.request((s) => s.put('zero', 0).put('empty', '').put('no', false).put('nothing', null));
    const { result } = await client.request((s) => [s.get('zero', 9), s.get('empty', 'x'), s.get('no', true), s.get('nothing', 'x'), s.has('nothing')]);
    expect(result).toEqual([0, '', false, null, true]);
  });

  it('remove deletes one key and keeps the others', async () => {
    const { client } = setup();
    await client.request((s) => s.put('a', 1).put('b', 2));
    await client.request((s) => s.remove('a'));
    const { result } = await client.request((s) => s.all());
    expect(result).toEqual({ b: 2 });
  });

  it('get() and all() hand out frozen values: a change in place throws and changes nothing', async () => {
    const { client } = setup();
    await client.request((s) => s.put('cart', { items: ['x'] }));
    const { result } = await client.request((s) => {
      const all = s.all() as { cart: { items: string[] }; added?: boolean };
      expect(() => all.cart.items.push('y')).toThrow(TypeError);
      expect(() => {
        all.added = true;
      }).toThrow(TypeError);
      const cart = s.get('cart') as { items: string[] };
      expect(Object.isFrozen(cart) && Object.isFrozen(cart.items)).toBe(true);
      expect(() => cart.items.push('z')).toThrow(TypeError);
      expect(s.isDirty).toBe(false);
      // The way to change it: put a new value.
      s.put('cart', { items: [...cart.items, 'y'] });
      return s.all();
    });
    expect(result).toEqual({ cart: { items: ['x', 'y'] } });
    expect((await client.request((s) => s.all())).result).toEqual({ cart: { items: ['x', 'y'] } });
  });

  it("a value passed to put() is copied: changing the caller's object later changes nothing", async () => {
    const { client } = setup();
    const mine = { items: ['x'] };
    await client.request((s) => s.put('cart', mine));
    mine.items.push('changed');
    expect(Object.isFrozen(mine)).toBe(false);
    expect((await client.request((s) => s.all())).result).toEqual({ cart: { items: ['x'] } });
  });

  it('a value changed by the caller after put is not changed in the session', async () => {
    const { client } = setup();
    const list = [1];
    await client.request((s) => {
      s.put('list', list);
      list.push(2);
      return s.get('list');
    });
    expect((await client.request((s) => s.get('list'))).result).toEqual([1]);
  });

  it('clear() empties data but keeps the id', async () => {
    const { client } = setup();
    const first = await client.request((s) => s.put('a', 1).put('b', 2));
    const cleared = await client.request((s) => {
      s.clear();
      return s.all();
    });
    expect(cleared.result).toEqual({});
    expect(cleared.session.id).toBe(first.session.id);
    const after = await client.request((s) => [s.all(), s.id]);
    expect(after.result).toEqual([{}, first.session.id]);
  });

  it('put after clear in the same request is kept', async () => {
    const { client } = setup();
    await client.request((s) => s.put('a', 1));
    await client.request((s) => s.clear().put('b', 2));
    expect((await client.request((s) => s.all())).result).toEqual({ b: 2 });
  });

  it('put(key, undefined) removes the key', async () => {
    const { client } = setup();
    await client.request((s) => s.put('a', 1));
    await client.request((s) => s.put('a', undefined));
    expect((await client.request((s) => s.has('a'))).result).toBe(false);
  });

  it('keys named __proto__ and constructor are stored as plain keys without polluting objects', async () => {
    const { client } = setup();
    await client.request((s) => {
      s.put('__proto__', { polluted: true });
      s.put('constructor', 'c');
      s.put('nested', JSON.parse('{"__proto__": {"polluted": true}}'));
    });
    const { result } = await client.request((s) => [s.get('__proto__'), s.get('constructor'), Object.keys(s.all()).sort()]);
    expect(result).toEqual([{ polluted: true }, 'c', ['__proto__', 'constructor', 'nested']]);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
  });
});

describe('counters', () => {
  it('increment and decrement start from 0 and return the new value', async () => {
    const { client } = setup();
    const { result } = await client.request((s) => [s.increment('n'), s.increment('n', 5), s.decrement('n'), s.decrement('m', 2)]);
    expect(result).toEqual([1, 6, 5, -2]);
    expect((await client.request((s) => [s.get('n'), s.get('m')])).result).toEqual([5, -2]);
  });

  it('increment after put in one request adds to the value put', async () => {
    const { client } = setup();
    await client.request((s) => s.put('n', 10));
    await client.request((s) => {
      s.put('n', 100);
      s.increment('n', 2);
    });
    expect((await client.request((s) => s.get('n'))).result).toBe(102);
  });

  it('counts keys named like Object.prototype members from 0', async () => {
    const { client } = setup();
    const keys = ['constructor', 'hasOwnProperty', 'toString', '__proto__'];
    await client.request((s) => s.put('first', 1));
    const { result } = await client.request((s) => keys.map((k) => s.increment(k)));
    expect(result).toEqual([1, 1, 1, 1]);
    expect((await client.request((s) => keys.map((k) => s.get(k)))).result).toEqual([1, 1, 1, 1]);
  });

  it('incrementing a non-number throws a ValueError', async () => {
    const { client } = setup();
    await client.request((s) => s.put('name', 'Ada'));
    await client.request((s) => {
      expect(() => s.increment('name')).toThrow(ValueError);
      expect(() => s.increment('n', Number.NaN)).toThrow(ValueError);
    });
  });
});

describe('flash data', () => {
  it('is readable in the request that flashed it and the next one, then gone', async () => {
    const { client } = setup();
    const n = await client.request((s) => {
      s.flash('success', 'Saved');
      return [s.flash('success'), s.get('success'), s.has('success'), s.all()];
    });
    expect(n.result).toEqual(['Saved', 'Saved', true, { success: 'Saved' }]);
    const n1 = await client.request((s) => [s.flash('success'), s.get('success'), s.has('success'), s.all()]);
    expect(n1.result).toEqual(['Saved', 'Saved', true, { success: 'Saved' }]);
    const n2 = await client.request((s) => [s.flash('success'), s.get('success'), s.has('success'), s.all()]);
    expect(n2.result).toEqual([undefined, undefined, false, {}]);
  });

  it('flash(key) is undefined for a key never flashed', async () => {
    const { client } = setup();
    expect((await client.request((s) => s.flash('nope'))).result).toBeUndefined();
  });

  it('flashing the same key again replaces it', async () => {
    const { client } = setup();
    await client.request((s) => s.flash('msg', 'one').flash('msg', 'two'));
    expect((await client.request((s) => s.flash('msg'))).result).toBe('two');
  });

  it('reflash() keeps every flash value for one more request', async () => {
    const { client } = setup();
    await client.request((s) => s.flash('a', 1).flash('b', 2));
    await client.request((s) => s.reflash());
    expect((await client.request((s) => [s.flash('a'), s.flash('b')])).result).toEqual([1, 2]);
    expect((await client.request((s) => [s.has('a'), s.has('b')])).result).toEqual([false, false]);
  });

  it("reflash(['a']) keeps only a", async () => {
    const { client } = setup();
    await client.request((s) => s.flash('a', 1).flash('b', 2));
    await client.request((s) => s.reflash(['a', 'not-flashed']));
    expect((await client.request((s) => [s.flash('a'), s.flash('b'), s.has('not-flashed')])).result).toEqual([1, undefined, false]);
  });

  it('a flash value set and then removed is gone, now and next request', async () => {
    const { client } = setup();
    const { result } = await client.request((s) => {
      s.flash('msg', 'x');
      s.remove('msg');
      return s.has('msg');
    });
    expect(result).toBe(false);
    expect((await client.request((s) => s.has('msg'))).result).toBe(false);
  });

  it('a delivered flash value removed in the next request is gone', async () => {
    const { client } = setup();
    await client.request((s) => s.flash('msg', 'x'));
    expect((await client.request((s) => s.remove('msg').has('msg'))).result).toBe(false);
    expect((await client.request((s) => s.has('msg'))).result).toBe(false);
  });

  it('now() is readable in this request only and never stored', async () => {
    const { client, store } = setup();
    const first = await client.request((s) => {
      s.put('keep', 1);
      s.now('notice', 'preview');
      return [s.get('notice'), s.flash('notice'), s.has('notice')];
    });
    expect(first.result).toEqual(['preview', 'preview', true]);
    expect(JSON.stringify(await store.get(first.session.id))).not.toContain('preview');
    expect((await client.request((s) => s.has('notice'))).result).toBe(false);
  });

  it('a flash value shadows session data of the same key while it is readable', async () => {
    const { client } = setup();
    await client.request((s) => s.put('k', 'data'));
    await client.request((s) => s.flash('k', 'flash'));
    expect((await client.request((s) => s.get('k'))).result).toBe('flash');
    expect((await client.request((s) => s.get('k'))).result).toBe('data');
  });
});

describe('CSRF tokens', () => {
  it('are at least 256 bits of base64url', async () => {
    const { client } = setup();
    const { result } = await client.request((s) => s.generateToken());
    expect(result).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    expect(Buffer.from(result, 'base64url').length).toBeGreaterThanOrEqual(32);
  });

  it('keep the newest 20: after 21 the first is invalid and the others validate exactly once', async () => {
    const { client } = setup();
    const { result: tokens } = await client.request((s) => Array.from({ length: 21 }, () => s.generateToken()));
    expect(new Set(tokens).size).toBe(21);
    const { result } = await client.request((s) => tokens.map((t) => s.validateToken(t)));
    expect(result).toEqual([false, ...Array(20).fill(true)]);
    const { result: again } = await client.request((s) => tokens.map((t) => s.validateToken(t)));
    expect(again).toEqual(Array(21).fill(false));
  });

  it('survive across requests and validate once even within one request', async () => {
    const { client } = setup();
    const { result: token } = await client.request((s) => s.generateToken());
    const { result } = await client.request((s) => [s.validateToken(token), s.validateToken(token)]);
    expect(result).toEqual([true, false]);
  });

  it('a token made and used in the same request is not valid afterwards', async () => {
    const { client } = setup();
    await client.request((s) => s.put('x', 1));
    const { result: token } = await client.request((s) => {
      const t = s.generateToken();
      expect(s.validateToken(t)).toBe(true);
      return t;
    });
    expect((await client.request((s) => s.validateToken(token))).result).toBe(false);
  });

  it('wrong-length, garbage and non-string tokens return false and never throw', async () => {
    const { client } = setup();
    const { result: token } = await client.request((s) => s.generateToken());
    const bad: unknown[] = ['', 'x', token.slice(1), `${token}x`, token.toUpperCase() === token ? 'a'.repeat(43) : token.toUpperCase(), '\u0000'.repeat(43), '日'.repeat(43), null, undefined, 42, {}, ['x'], 'a'.repeat(100_000)];
    const { result } = await client.request((s) => bad.map((t) => s.validateToken(t)));
    expect(result).toEqual(bad.map(() => false));
    expect((await client.request((s) => s.validateToken(token))).result).toBe(true);
  });

  it('a token of another session does not validate', async () => {
    const { client, manager } = setup();
    const other = new TestClient(manager);
    const { result: token } = await client.request((s) => s.generateToken());
    await other.request((s) => s.put('x', 1));
    expect((await other.request((s) => s.validateToken(token))).result).toBe(false);
  });
});

describe('regenerateId', () => {
  it('gives a new id at commit, deletes the old record and drops data, flash and tokens', async () => {
    const { client, store } = setup();
    const first = await client.request((s) => {
      s.put('a', 1);
      s.flash('f', 'x');
      return s.generateToken();
    });
    const oldId = first.session.id;
    const oldCookie = client.cookie;
    const regen = await client.request((s) => {
      s.regenerateId();
      return [s.all(), s.validateToken(first.result)];
    });
    expect(regen.result).toEqual([{}, false]);
    expect(regen.session.id).not.toBe(oldId);
    expect(regen.setCookie).toContain(regen.session.id);
    expect(await store.get(oldId)).toBeUndefined();
    expect(await store.get(regen.session.id)).toBeDefined();
    // The old cookie now gives a fresh, empty session with yet another id.
    const stale = new TestClient(client.manager);
    stale.cookie = oldCookie;
    const replay = await stale.request((s) => [s.isNew, s.all()]);
    expect(replay.result).toEqual([true, {}]);
    expect(replay.session.id).not.toBe(oldId);
  });

  it('regenerateId(true) keeps data, flash and tokens under the new id', async () => {
    const { client, store } = setup();
    const first = await client.request((s) => {
      s.put('a', 1);
      s.flash('f', 'x');
      return s.generateToken();
    });
    const oldId = first.session.id;
    const regen = await client.request((s) => {
      s.regenerateId(true);
      return [s.get('a'), s.get('f')];
    });
    expect(regen.result).toEqual([1, 'x']);
    expect(regen.session.id).not.toBe(oldId);
    expect(await store.get(oldId)).toBeUndefined();
    expect((await client.request((s) => [s.get('a'), s.validateToken(first.result)])).result).toEqual([1, true]);
  });

  it('values put after regenerateId() are kept (sign-in then flash)', async () => {
    const { client } = setup();
    await client.request((s) => s.put('cart', 3));
    await client.request((s) => {
      s.regenerateId();
      s.put('user', 'ada');
      s.flash('success', 'Welcome back');
    });
    expect((await client.request((s) => [s.get('user'), s.get('cart'), s.flash('success')])).result).toEqual(['ada', undefined, 'Welcome back']);
  });

  it('regenerating a session that holds nothing still issues a new stored id', async () => {
    const { client, store } = setup();
    const { session, setCookie } = await client.request((s) => s.regenerateId());
    expect(setCookie).toBeDefined();
    expect(await store.get(session.id)).toBeDefined();
  });
});

describe('destroy', () => {
  it('deletes the record at commit and expires the cookie with Max-Age=0', async () => {
    const { client, store } = setup();
    const first = await client.request((s) => s.put('a', 1));
    const oldCookie = client.cookie;
    const gone = await client.request((s) => s.destroy());
    expect(gone.setCookie).toMatch(/^sess=; Max-Age=0;/);
    expect(await store.get(first.session.id)).toBeUndefined();
    expect(client.cookie).toBeUndefined();
    const stale = new TestClient(client.manager);
    stale.cookie = oldCookie;
    expect((await stale.request((s) => [s.isNew, s.all()])).result).toEqual([true, {}]);
  });

  it('values put after destroy() start a new session', async () => {
    const { client, store } = setup();
    const first = await client.request((s) => s.put('user', 'ada'));
    const out = await client.request((s) => {
      s.destroy();
      s.flash('notice', 'Signed out');
    });
    expect(out.setCookie).not.toMatch(/Max-Age=0/);
    expect(out.session.id).not.toBe(first.session.id);
    expect(await store.get(first.session.id)).toBeUndefined();
    expect((await client.request((s) => [s.get('user'), s.flash('notice')])).result).toEqual([undefined, 'Signed out']);
  });
});

describe('values that cannot be stored', () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const cases: Array<[string, unknown]> = [
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a BigInt', 10n],
    ['a cyclic object', cyclic],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a Date', new Date()],
    ['a Map', new Map()],
    ['a nested function', { a: { b: [() => 1] } }],
    ['undefined in an array', [1, undefined]],
  ];

  it.each(cases)('put of %s throws a ValueError at once and stores nothing', async (_, value) => {
    const { client } = setup();
    await client.request((s) => {
      expect(() => s.put('bad', value)).toThrow(ValueError);
      expect(() => s.flash('bad', value)).toThrow(ValueError);
      expect(s.has('bad')).toBe(false);
    });
    expect((await client.request((s) => s.has('bad'))).result).toBe(false);
  });

  it('names the offending path in the message', async () => {
    const { client } = setup();
    await client.request((s) => {
      expect(() => s.put('profile', { tags: [1, () => 2] })).toThrow('[sess] cannot store session value "profile.tags[1]": a function cannot be stored as JSON.');
    });
  });

  it('a record over maxSize is refused at commit with a ValueError and nothing is written', async () => {
    const { client, store } = setup({ maxSize: 10_000 });
    await client.request((s) => s.put('small', 'ok'));
    const id = (await client.request((s) => s.id)).result;
    const before = JSON.stringify(await store.get(id));
    await expect(client.request((s) => s.put('big', 'x'.repeat(20_000)))).rejects.toMatchObject({ name: 'ValueError', code: 'E_RECORD_TOO_LARGE' });
    expect(JSON.stringify(await store.get(id))).toBe(before);
  });

  it('a new session over maxSize is not stored and gets no cookie', async () => {
    const { manager, store } = setup({ maxSize: 1_000 });
    const session = await manager.load(undefined);
    session.put('big', 'x'.repeat(5_000));
    await expect(manager.commit(session)).rejects.toBeInstanceOf(ValueError);
    expect(store.size).toBe(0);
  });

  it('deep nesting within the limit and 1 MB strings round-trip', async () => {
    const { client } = setup();
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 500; i++) deep = { d: deep };
    const big = 'é'.repeat(1_000_000);
    await client.request((s) => s.put('deep', deep).put('big', big));
    const { result } = await client.request((s) => [s.get('deep'), s.get('big')]);
    expect(result).toEqual([deep, big]);
  });
});

describe('setUser limits (what every store can keep)', () => {
  it('accepts ids up to 512 characters and refuses longer ones, control characters and broken Unicode with a ValueError', async () => {
    const { client } = setup();
    const long = 'é'.repeat(512);
    expect((await client.request((s) => s.setUser(long).user)).result).toBe(long);
    for (const bad of ['x'.repeat(513), 'tab\there', 'nul\u0000', 'lone \ud800 surrogate', '']) {
      await expect(client.request((s) => s.setUser(bad))).rejects.toMatchObject({ name: 'ValueError', code: 'E_VALUE' });
    }
    await expect(client.request((s) => s.setUser('x'.repeat(513)))).rejects.toThrow(/512/);
    // A refused id changed nothing.
    expect((await client.request((s) => s.user)).result).toBe(long);
  });
});
