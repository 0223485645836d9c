import { randomBytes } from 'node:crypto';
import { applyChange, emptyRecord, StoreError, ConfigError } from '@sess/core';
import type { JsonValue, SessionChange, SessionRecord } from '@sess/core';
import { testStore } from '@sess/core/testing';
import { RedisStore } from '@sess/store-redis';
import { requireService } from '@sess/test-utils';
import { Redis } from 'ioredis';
import { once } from 'node:events';
import { rotateCases } from './rotate-cases.js';
import { afterAll, describe, expect, it, vi } from 'vitest';

const hasRedis = await requireService('redis');
const runPrefix = `sess-test-redis:${process.pid}-${randomBytes(4).toString('hex')}:`;
const clients: Redis[] = [];

function client(): Redis {
  const redis = new Redis({ host: '127.0.0.1', port: 6379, enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false });
  clients.push(redis);
  return redis;
}

/** Connected, so that enableOfflineQueue: false does not refuse the first command. */
async function ready(redis: Redis): Promise<Redis> {
  if (redis.status !== 'ready') await once(redis, 'ready');
  return redis;
}

/** Every key of this run, by SCAN (this test file must not use KEYS either). */
async function keysOf(redis: Redis, prefix: string): Promise<string[]> {
  const escaped = prefix.replace(/[*?[\]\\]/g, '\\$&');
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${escaped}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

afterAll(async () => {
  if (!hasRedis) return;
  const redis = await ready(clients[0] ?? client());
  const keys = await keysOf(redis, runPrefix);
  if (keys.length) await redis.del(...keys);
  await Promise.all(clients.map((c) => c.quit()));
});

describe.skipIf(!hasRedis)('RedisStore on a single node', () => {
  testStore({
    name: 'RedisStore',
    create: async () => {
      const redis = client();
      await ready(redis);
      const store = new RedisStore({ client: redis, prefix: `${runPrefix}conf:` });
      return store;
    },
    nativeExpiry: true, // Redis expires records itself: prune() returns 0
    corrupt: async (store, id) => {
      await (store as RedisStore).client.set((store as RedisStore).key(id), '{"data": not json', 'PX', 60_000);
    },
  });

  const fresh = async (name: string) => {
    const redis = await ready(client());
    return { redis, store: new RedisStore({ client: redis, prefix: `${runPrefix}${name}:` }) };
  };

  it('lays keys out as <prefix><id> (string, JSON) and <prefix>user:<userId> (set)', async () => {
    const { redis, store } = await fresh('layout');
    await store.set('abc', { ...emptyRecord(1), user: 'u1', data: { x: 1 } }, 60);
    expect((await keysOf(redis, `${runPrefix}layout:`)).sort()).toEqual([`${runPrefix}layout:abc`, `${runPrefix}layout:user:u1`]);
    expect(await redis.type(`${runPrefix}layout:abc`)).toBe('string');
    expect(JSON.parse((await redis.get(`${runPrefix}layout:abc`))!)).toEqual({ ...emptyRecord(1), user: 'u1', data: { x: 1 } });
    expect(await redis.smembers(`${runPrefix}layout:user:u1`)).toEqual(['abc']);
    const recordTtl = await redis.pttl(`${runPrefix}layout:abc`);
    expect(recordTtl).toBeGreaterThan(59_000);
    expect(await redis.pttl(`${runPrefix}layout:user:u1`)).toBeGreaterThanOrEqual(recordTtl - 50);
  });

  it('defaults the prefix to "sess:"', () => {
    expect(new RedisStore({ client: client() }).key('x')).toBe('sess:x');
  });

  it('two app instances (two clients, two stores) apply 100 overlapping increments: exactly 100', async () => {
    const a = await fresh('multi');
    const b = await fresh('multi');
    await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).store.update('m', { increment: { n: 1 }, lastSeen: i }, 60)));
    expect((await a.store.get('m'))?.record.data.n).toBe(100);
  });

  it('the user set never expires before its longest session', async () => {
    const { redis, store } = await fresh('userttl');
    await store.set('long', { ...emptyRecord(1), user: 'u' }, 300);
    await store.set('short', { ...emptyRecord(1), user: 'u' }, 2);
    expect(await redis.pttl(store.userKey('u'))).toBeGreaterThan(299_000);
  });

  it('applies 50 overlapping increments through update: exactly 50, and 50 writes of one key', async () => {
    const { store } = await fresh('incr');
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.update('n', { increment: { hits: 1 }, lastSeen: 1000 + i }, 60)));
    const record = (await store.get('n'))?.record;
    expect(record?.data.hits).toBe(50);
    expect(record?.lastSeen).toBe(1049);
    expect(record?.createdAt).toBeGreaterThanOrEqual(1000);
  });

  it('keeps numbers exact: epoch ms, 14+ significant digits, tiny fractions, increments of fractions', async () => {
    const { redis, store } = await fresh('numbers');
    const values = { epoch: 1764000000123, big: 12345678901234, tiny: -1.5e-7, third: 0.30000000000000004, max: Number.MAX_SAFE_INTEGER, e: 1e21 };
    await store.set('n', { ...emptyRecord(1764000000123), data: values }, 60);
    await store.update('n', { put: { untouched: 2 ** 60 }, increment: { third: 0.1, tiny: 1e-20, epoch: 1 }, lastSeen: 1764000000999 }, 60);
    const want = applyChange({ ...emptyRecord(1764000000123), data: values }, { put: { untouched: 2 ** 60 }, increment: { third: 0.1, tiny: 1e-20, epoch: 1 }, lastSeen: 1764000000999 }).record;
    expect((await store.get('n'))?.record).toEqual(want);
    // untouched values stay as the JSON text JavaScript wrote
    expect(await redis.get(store.key('n'))).toContain('"big":12345678901234');
  });

  it('treats a null increment amount (NaN through JSON) as applyChange does', async () => {
    const { store } = await fresh('nullinc');
    const change = JSON.parse('{"increment":{"a":null,"b":2},"lastSeen":5}') as SessionChange;
    await store.set('n', { ...emptyRecord(1), data: { a: 3 } }, 60);
    await store.update('n', change, 60);
    expect((await store.get('n'))?.record).toEqual(applyChange({ ...emptyRecord(1), data: { a: 3 } }, change).record);
  });

  it('keeps empty objects and arrays apart, and "__proto__" as a plain key, through update', async () => {
    const { store } = await fresh('shapes');
    const record = { ...emptyRecord(1), data: JSON.parse('{"__proto__":{"p":1},"o":{},"a":[],"n":{"o":{},"a":[[]]}}'), flash: {} };
    await store.set('s', record, 60);
    await store.update('s', { put: JSON.parse('{"__proto__":{"q":[]},"e":{}}'), lastSeen: 2 }, 60);
    const back = (await store.get('s'))?.record;
    expect(back?.data).toEqual(JSON.parse('{"__proto__":{"q":[]},"o":{},"a":[],"n":{"o":{},"a":[[]]},"e":{}}'));
    expect(Object.getPrototypeOf(back!.data)).toBe(Object.prototype);
    expect(back?.tokens).toEqual([]);
    expect(back?.flash).toEqual({});
  });

  it('agrees with applyChange on 400 random changes over awkward keys and numbers, by the script and by the compare-and-set path', async () => {
    const { redis, store } = await fresh('fuzz');
    let seed = 20261124;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
    const keys = ['a', 'a"b', 'x\\y', 'nul\u0000', 'sl/ash', 'lone\ud800', '🎉', '', '__proto__', 'toString', '0', 'ü'];
    const values: JsonValue[] = [0.1 + 0.2, 1e-7, -1.5e-7, 2 ** 53 + 2, 1e300, 5e-324, 12345678901234.567, -0.5, 'x\n\t"', {}, [], [{}, []], { '': { '__proto__': [] } }, null, false, 'lone\udfff'];
    const obj = (n: number) => {
      const out: Record<string, JsonValue> = {};
      for (let i = Math.floor(random() * n); i > 0; i--) Object.defineProperty(out, pick(keys), { value: pick(values), enumerable: true, writable: true, configurable: true });
      return out;
    };
    let expected: SessionRecord | undefined = { ...emptyRecord(1764000000000.5), data: obj(6), flash: obj(3), tokens: ['t"1', 't\\2'] };
    await store.set('f', expected, 60);
    expect((await store.get('f'))?.record).toEqual(expected);
    // The caller's copy: sometimes current (the compare-and-set path), sometimes stale (the script).
    let held = await store.get('f');
    const paths = { cas: 0, script: 0 };
    const cas = vi.spyOn(store.client as unknown as { sessStoreCas: () => Promise<number> }, 'sessStoreCas');
    for (let round = 0; round < 400; round++) {
      const change: SessionChange = { lastSeen: 1764000000000 + Math.floor(random() * 1000) / 7 };
      if (random() < 0.2) change.ifExists = true;
      if (random() < 0.05) change.clear = true;
      if (random() < 0.03) change.reset = true;
      if (random() < 0.4) change.remove = [pick(keys), pick(keys)];
      if (random() < 0.5) change.put = obj(4);
      if (random() < 0.4) change.increment = { [pick(keys)]: pick([1, -1, 0.1, 1e-9, 2 ** 52, -3.75]) };
      if (random() < 0.3) change.consumeFlash = [pick(keys), pick(keys)];
      if (random() < 0.3) change.flash = obj(3);
      const ring = expected?.tokens ?? [];
      if (random() < 0.3 && ring.length) change.consumeTokens = [pick(ring), pick(ring), 'absent'];
      if (random() < 0.3) change.addTokens = Array.from({ length: 1 + Math.floor(random() * 12) }, (_, i) => `tok${round}-${i}${pick(['', '"', '\\', '\u2028'])}`);
      if (random() < 0.15) change.user = pick([null, 'u"1', 'ü2']);
      if (random() < 0.1) change.meta = { ip: pick(['::1', 'a"b']) };
      const want = applyChange(expected, JSON.parse(JSON.stringify(change)));
      const give = random() < 0.7 ? held : undefined;
      const casBefore = cas.mock.calls.length;
      const got = await store.update('f', change, 60, give);
      if (give && cas.mock.calls.length > casBefore && (await cas.mock.results.at(-1)!.value) === 1) paths.cas++;
      else paths.script++;
      expect({ existed: got.existed, written: got.written }).toEqual({ existed: want.existed, written: want.record !== undefined });
      expect(got.consumedTokens.sort()).toEqual(want.consumedTokens.sort());
      expect(got.consumedFlash).toEqual(JSON.parse(JSON.stringify(want.consumedFlash)));
      // what a JSON store gives back: the record after a JSON round trip
      if (want.record) expected = JSON.parse(JSON.stringify(want.record)) as SessionRecord;
      expect((await store.get('f'))?.record).toEqual(expected);
      // the version is the text now stored, and the record returned is the one it holds
      expect(got.version).toBe(await redis.get(store.key('f')));
      expect(JSON.parse(JSON.stringify(got.record))).toEqual(expected);
      if (random() < 0.8) held = { record: got.record!, version: got.version! };
    }
    cas.mockRestore();
    expect(paths.cas).toBeGreaterThan(100);
    expect(paths.script).toBeGreaterThan(100);
  });

  it('lists and destroys a user\'s sessions, repairing the index of gone and re-assigned ids', async () => {
    const { redis, store } = await fresh('users');
    for (const id of ['a', 'b', 'c']) await store.set(id, { ...emptyRecord(1), user: 'u' }, 60);
    await store.destroy('b');
    await store.set('c', { ...emptyRecord(1), user: 'other' }, 60); // set() cannot know the old user
    expect(await redis.smembers(store.userKey('u'))).toHaveLength(3);
    expect((await store.listByUser('u')).map((s) => s.id)).toEqual(['a']);
    expect(await redis.smembers(store.userKey('u'))).toEqual(['a']);
    await store.update('a', { user: 'other', lastSeen: 2 }, 60); // update moves the id itself
    expect(await redis.exists(store.userKey('u'))).toBe(0);
    expect((await redis.smembers(store.userKey('other'))).sort()).toEqual(['a', 'c']);
    expect(await store.destroyByUser('other', 'c')).toBe(1);
    expect(await store.get('a')).toBeUndefined();
    expect(await store.get('c')).toBeDefined();
  });

  it('prune drops index entries of sessions that are gone and returns 0 (Redis expires records itself)', async () => {
    const { redis, store } = await fresh('prune');
    await store.set('live', { ...emptyRecord(1), user: 'p' }, 60);
    await store.set('dead', { ...emptyRecord(1), user: 'p' }, 60);
    await redis.del(store.key('dead'));
    expect(await store.prune()).toBe(0);
    expect(await redis.smembers(store.userKey('p'))).toEqual(['live']);
  });

  it('works behind an ioredis keyPrefix, prune included', async () => {
    const prefixed = await ready(new Redis({ host: '127.0.0.1', port: 6379, keyPrefix: `${runPrefix}kp:` }));
    clients.push(prefixed);
    const store = new RedisStore({ client: prefixed, prefix: 's:' });
    await store.set('live', { ...emptyRecord(1), user: 'p' }, 60);
    await store.set('dead', { ...emptyRecord(1), user: 'p' }, 60);
    await store.destroy('dead');
    const plain = clients[0]!;
    expect(await plain.exists(`${runPrefix}kp:s:live`)).toBe(1);
    expect(await store.prune()).toBe(0);
    expect(await plain.smembers(`${runPrefix}kp:s:user:p`)).toEqual(['live']);
    expect((await store.listByUser('p')).map((s) => s.id)).toEqual(['live']);
  });

  it('close() leaves the client open', async () => {
    const { redis, store } = await fresh('close');
    await store.close();
    expect(await redis.ping()).toBe('PONG');
  });

  it('refuses a missing client with a ConfigError that names the fix', () => {
    expect(() => new RedisStore({} as never)).toThrow(ConfigError);
    expect(() => new RedisStore({} as never)).toThrow(/^\[sess\] RedisStore needs an ioredis client: pass \{ client: new Redis/);
  });

  it('a command Redis refuses (a set where a record should be) is a StoreError E_STORE_REFUSED (500), not an outage', async () => {
    const { redis, store } = await fresh('wrongtype');
    await redis.sadd(store.key('set'), 'x'); // a set where a record should be
    for (const call of [
      () => store.update('set', { put: { a: 1 }, lastSeen: 1 }, 60),
      () => store.update('set', { put: { a: 1 }, lastSeen: 1 }, 60, { record: emptyRecord(1), version: '{}' }),
      () => store.get('set'),
      () => store.rotate('set', 'elsewhere', { lastSeen: 1 }, 60),
    ]) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe('E_STORE_REFUSED');
      expect((err as StoreError).status).toBe(500);
      expect((err as StoreError).message).toMatch(/^\[sess\] the session store refused to .*: the backend is reachable but rejected the value \(WRONGTYPE/);
      expect((err as StoreError).cause).toBeInstanceOf(Error);
    }
    expect(await redis.exists(store.key('elsewhere'))).toBe(0);
  });

  it('a ttl Redis refuses (out of range for PX) is E_STORE_REFUSED and writes nothing', async () => {
    const { redis, store } = await fresh('badttl');
    for (const call of [
      () => store.set('s', emptyRecord(1), 1e20),
      () => store.update('s', { put: { a: 1 }, lastSeen: 1 }, 1e20),
    ]) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe('E_STORE_REFUSED');
      expect((err as StoreError).message).toMatch(/not an integer or out of range/);
    }
    expect(await redis.exists(store.key('s'))).toBe(0);
  });

  it('get gives the stored text as the version: equal for two reads of an unchanged record, new after each write', async () => {
    const { redis, store } = await fresh('version');
    await store.set('v', { ...emptyRecord(1), user: 'u' }, 60);
    const first = await store.get('v');
    const again = await store.get('v');
    expect(first?.version).toBe(await redis.get(store.key('v')));
    expect(again?.version).toBe(first?.version);
    const written = await store.update('v', { ifExists: true, put: { a: 1 }, lastSeen: 2 }, 60, first);
    expect(written.version).not.toBe(first?.version);
    expect(written.version).toBe(await redis.get(store.key('v')));
    expect(await store.get('v')).toEqual({ record: written.record, version: written.version });
    const slow = await store.update('v', { ifExists: true, put: { b: 1 }, lastSeen: 3 }, 60);
    expect(slow.version).toBe(await redis.get(store.key('v')));
    expect(await store.get('v')).toEqual({ record: slow.record, version: slow.version });
    const none = await store.update('absent', { ifExists: true, put: { a: 1 }, lastSeen: 2 }, 60);
    expect(none).toEqual({ existed: false, written: false, consumedTokens: [], consumedFlash: {} });
  });

  it('update with a held copy: one compare-and-set call while it is current, the full script once it is stale, the same result', async () => {
    const { store } = await fresh('cas');
    const client = store.client as unknown as { sessStoreCas: () => Promise<number>; sessStoreUpdate: () => Promise<unknown> };
    const cas = vi.spyOn(client, 'sessStoreCas');
    const update = vi.spyOn(client, 'sessStoreUpdate');
    try {
      await store.set('c', { ...emptyRecord(1), tokens: ['t'] }, 60);
      const held = (await store.get('c'))!;
      const first = await store.update('c', { ifExists: true, consumeTokens: ['t'], increment: { n: 1 }, lastSeen: 2 }, 60, held);
      expect(first).toMatchObject({ existed: true, written: true, consumedTokens: ['t'] });
      expect([cas.mock.calls.length, update.mock.calls.length]).toEqual([1, 0]);
      // the same held copy again: stale now, so the script applies it to the stored record
      const second = await store.update('c', { ifExists: true, consumeTokens: ['t'], increment: { n: 1 }, lastSeen: 3 }, 60, held);
      expect(second).toMatchObject({ existed: true, written: true, consumedTokens: [] });
      expect(second.record?.data).toEqual({ n: 2 });
      expect([cas.mock.calls.length, update.mock.calls.length]).toEqual([2, 1]);
      // and the version it returned takes the cheap path again
      await store.update('c', { ifExists: true, increment: { n: 1 }, lastSeen: 4 }, 60, { record: second.record!, version: second.version! });
      expect([cas.mock.calls.length, update.mock.calls.length]).toEqual([3, 1]);
      expect((await store.get('c'))?.record.data).toEqual({ n: 3 });
    } finally {
      cas.mockRestore();
      update.mockRestore();
    }
  });

  it('rotate on one node is one script call over both keys: no GET, SET or DEL of its own', async () => {
    const { store } = await fresh('onescript');
    await store.set('a', { ...emptyRecord(1), user: 'u' }, 60);
    await store.set('c', { ...emptyRecord(1), user: 'u' }, 60);
    const held = await store.get('c');
    const client = store.client as unknown as Record<string, () => unknown>;
    const spies = Object.fromEntries(
      ['get', 'set', 'del', 'sessStoreCas', 'sessStoreUpdate', 'sessStoreRotate', 'sessStoreRotateCas'].map((name) => [name, vi.spyOn(client, name)]),
    );
    try {
      await store.rotate('a', 'b', { put: { x: 1 }, lastSeen: 2 }, 60);
      await store.rotate('c', 'd', { put: { x: 1 }, lastSeen: 2 }, 60, held);
      const counts = Object.fromEntries(Object.entries(spies).map(([name, spy]) => [name, spy.mock.calls.length]));
      expect(counts).toEqual({ get: 0, set: 0, del: 0, sessStoreCas: 0, sessStoreUpdate: 0, sessStoreRotate: 1, sessStoreRotateCas: 1 });
    } finally {
      for (const spy of Object.values(spies)) spy.mockRestore();
    }
    expect((await store.listByUser('u')).map((s) => s.id).sort()).toEqual(['b', 'd']);
  });

  rotateCases({
    stores: async (name) => ({ store: (await fresh(name)).store, other: (await fresh(name)).store }),
    raw: () => clients[0]!,
  });
});
