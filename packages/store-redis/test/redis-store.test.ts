import { randomBytes } from 'node:crypto';
import { applyChange, emptyRecord, StoreError, ConfigError } from '@sess/core';
import type { JsonValue, SessionChange, SessionRecord } from '@sess/core';
import { testStore } from '@sess/core/testing';
import { RedisStore } from '@sess/store-redis';
import { requireService } from '@sess/test-utils';
import { Redis } from 'ioredis';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';

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

  it('touch sets the expiry with PEXPIRE (PTTL shows it) and never creates a key', async () => {
    const { redis, store } = await fresh('touch');
    await store.set('t', emptyRecord(1), 5);
    expect(await redis.pttl(store.key('t'))).toBeLessThanOrEqual(5000);
    await store.touch('t', 120);
    const ttl = await redis.pttl(store.key('t'));
    expect(ttl).toBeGreaterThan(119_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
    await store.touch('absent', 120);
    expect(await redis.exists(store.key('absent'))).toBe(0);
  });

  it('touch extends the user index as far as the session', async () => {
    const { redis, store } = await fresh('touchuser');
    await store.set('t', { ...emptyRecord(1), user: 'u' }, 5);
    await store.touch('t', 300);
    expect(await redis.pttl(store.userKey('u'))).toBeGreaterThan(299_000);
  });

  it('touch finds the user of a record written in another key order, and of one written by update', async () => {
    const { redis, store } = await fresh('touchorder');
    await redis.set(store.key('foreign'), JSON.stringify({ data: { user: 'not me' }, flash: {}, tokens: [], createdAt: 1, lastSeen: 1, user: 'u"1' }), 'PX', 5000);
    await store.touch('foreign', 300);
    expect(await redis.smembers(store.userKey('u"1'))).toEqual(['foreign']);
    await store.update('upd', { user: 'u2', lastSeen: 1 }, 5);
    await store.touch('upd', 300);
    expect(await redis.pttl(store.userKey('u2'))).toBeGreaterThan(299_000);
    await store.set('none', { ...emptyRecord(1), data: { user: 'fake' } }, 5);
    await store.touch('none', 300);
    expect(await redis.exists(store.userKey('fake'))).toBe(0);
  });

  it('two app instances (two clients, two stores) apply 100 overlapping increments: exactly 100', async () => {
    const a = await fresh('multi');
    const b = await fresh('multi');
    await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).store.update('m', { increment: { n: 1 }, lastSeen: i }, 60)));
    expect((await a.store.get('m'))?.data.n).toBe(100);
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
    const record = await store.get('n');
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
    expect(await store.get('n')).toEqual(want);
    // untouched values stay as the JSON text JavaScript wrote
    expect(await redis.get(store.key('n'))).toContain('"big":12345678901234');
  });

  it('treats a null increment amount (NaN through JSON) as applyChange does', async () => {
    const { store } = await fresh('nullinc');
    const change = JSON.parse('{"increment":{"a":null,"b":2},"lastSeen":5}') as SessionChange;
    await store.set('n', { ...emptyRecord(1), data: { a: 3 } }, 60);
    await store.update('n', change, 60);
    expect(await store.get('n')).toEqual(applyChange({ ...emptyRecord(1), data: { a: 3 } }, change).record);
  });

  it('keeps empty objects and arrays apart, and "__proto__" as a plain key, through update', async () => {
    const { store } = await fresh('shapes');
    const record = { ...emptyRecord(1), data: JSON.parse('{"__proto__":{"p":1},"o":{},"a":[],"n":{"o":{},"a":[[]]}}'), flash: {} };
    await store.set('s', record, 60);
    await store.update('s', { put: JSON.parse('{"__proto__":{"q":[]},"e":{}}'), lastSeen: 2 }, 60);
    const back = await store.get('s');
    expect(back?.data).toEqual(JSON.parse('{"__proto__":{"q":[]},"o":{},"a":[],"n":{"o":{},"a":[[]]},"e":{}}'));
    expect(Object.getPrototypeOf(back!.data)).toBe(Object.prototype);
    expect(back?.tokens).toEqual([]);
    expect(back?.flash).toEqual({});
  });

  it('agrees with applyChange on 400 random changes over awkward keys and numbers', async () => {
    const { store } = await fresh('fuzz');
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
    expect(await store.get('f')).toEqual(expected);
    for (let round = 0; round < 400; round++) {
      const change: SessionChange = { lastSeen: 1764000000000 + Math.floor(random() * 1000) / 7 };
      if (random() < 0.2) change.ifExists = true;
      if (random() < 0.05) change.clear = true;
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
      const got = await store.update('f', change, 60);
      expect({ existed: got.existed, written: got.written }).toEqual({ existed: want.existed, written: want.record !== undefined });
      expect(got.consumedTokens.sort()).toEqual(want.consumedTokens.sort());
      expect(got.consumedFlash).toEqual(JSON.parse(JSON.stringify(want.consumedFlash)));
      // what a JSON store gives back: the record after a JSON round trip
      if (want.record) expected = JSON.parse(JSON.stringify(want.record)) as SessionRecord;
      expect(await store.get('f')).toEqual(expected);
    }
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

  it('wraps a failing command in a StoreError naming the fix', async () => {
    const { redis, store } = await fresh('wrongtype');
    await redis.sadd(store.key('set'), 'x'); // a set where a record should be
    const err = await store.update('set', { put: { a: 1 }, lastSeen: 1 }, 60).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('E_STORE');
    expect((err as StoreError).message).toMatch(/^\[sess\] RedisStore could not update the session: WRONGTYPE.*Check that Redis is reachable/);
  });
});
