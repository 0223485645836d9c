import { randomBytes } from 'node:crypto';
import { emptyRecord, isRotatedMark, SessionManager, StoreError } from '@sess/core';
import { TestClient, testSecret } from '@sess/core/testing';
import { testStore } from '@sess/core/testing';
import { RedisStore } from '@sess/store-redis';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCluster, type TestCluster } from './cluster.js';
import { hasRedisBinaries } from './redis-server.js';
import { rotateCases } from './rotate-cases.js';

const runnable = hasRedisBinaries();

let cluster: TestCluster | undefined;
let client: Cluster | undefined;
/** A second Cluster client: other connections, for races between two app instances. */
let second: Cluster | undefined;

async function connect(nodes: TestCluster['nodes']): Promise<Cluster> {
  const c = new Cluster(nodes, { enableOfflineQueue: true, redisOptions: { maxRetriesPerRequest: 1, commandTimeout: 2000 } });
  await new Promise<void>((resolve, reject) => {
    c.once('ready', resolve);
    c.once('error', reject);
  });
  return c;
}

beforeAll(async () => {
  if (!runnable) return;
  cluster = await startCluster();
  client = await connect(cluster.nodes);
  second = await connect(cluster.nodes);
});

afterAll(async () => {
  client?.disconnect();
  second?.disconnect();
  await cluster?.stop();
});

describe.skipIf(!runnable)('RedisStore on a 3-master Redis Cluster', () => {
  const prefix = `sess-test:${randomBytes(4).toString('hex')}:`;

  testStore({
    name: 'RedisStore (Cluster)',
    create: () => {
      const store = new RedisStore({ client: client!, prefix });
      return store;
    },
    nativeExpiry: true, // Redis expires records itself: prune() returns 0
    corrupt: async (store, id) => {
      await client!.set((store as RedisStore).key(id), '[1,2', 'PX', 60_000);
    },
  });

  it('spreads sessions over every master, and lists and destroys a user\'s sessions across slots', async () => {
    const store = new RedisStore({ client: client!, prefix: `${prefix}spread:` });
    const ids = Array.from({ length: 24 }, (_, i) => `id-${i}`);
    for (const id of ids) await store.set(id, { ...emptyRecord(1), user: 'u' }, 60);
    const perNode = await Promise.all(client!.nodes('master').map((node) => node.dbsize()));
    expect(perNode.filter((n) => n > 0)).toHaveLength(3);
    expect((await store.listByUser('u')).map((s) => s.id).sort()).toEqual([...ids].sort());
    expect(await store.destroyByUser('u', 'id-0')).toBe(23);
    expect((await store.listByUser('u')).map((s) => s.id)).toEqual(['id-0']);
  });

  it('prunes the user index on every master with SCAN', async () => {
    const store = new RedisStore({ client: client!, prefix: `${prefix}prune:` });
    for (const user of ['a', 'b', 'c', 'd', 'e']) {
      await store.set(`${user}-live`, { ...emptyRecord(1), user }, 60);
      await store.set(`${user}-dead`, { ...emptyRecord(1), user }, 60);
      await client!.del(store.key(`${user}-dead`));
    }
    expect(await store.prune()).toBe(0);
    for (const user of ['a', 'b', 'c', 'd', 'e']) expect(await client!.smembers(store.userKey(user))).toEqual([`${user}-live`]);
  });

  rotateCases({
    stores: async (name) => ({
      store: new RedisStore({ client: client!, prefix: `${prefix}${name}:` }),
      other: new RedisStore({ client: second!, prefix: `${prefix}${name}:` }),
    }),
    raw: () => client!,
  });

  it('rotate across slots: never a two-key script, and the old and new keys really are on different slots', async () => {
    const store = new RedisStore({ client: client!, prefix: `${prefix}slots:` });
    const two = ['sessStoreRotate', 'sessStoreRotateCas'].map((name) => vi.spyOn(client as unknown as Record<string, () => unknown>, name));
    try {
      let crossed = 0;
      for (let i = 0; i < 10; i++) {
        const [a, b] = [randomBytes(16).toString('base64url'), randomBytes(16).toString('base64url')];
        await store.set(a, { ...emptyRecord(1), user: 'u', data: { i } }, 60);
        const slots = await Promise.all([a, b].map((id) => client!.cluster('KEYSLOT', store.key(id)) as Promise<number>));
        if (slots[0] !== slots[1]) crossed++;
        const moved = await store.rotate(a, b, { put: { moved: true }, lastSeen: 2 }, 60, i % 2 ? await store.get(a) : undefined);
        expect(moved).toMatchObject({ existed: true, written: true, record: { data: { i, moved: true } } });
        expect(await store.get(a)).toBeUndefined();
        // the old key keeps the rotated mark, with this rotation's nonce
        expect(await client!.get(store.key(a))).toMatch(/^\{"sess:rotated":true,"nonce":"[\w-]{16}"\}$/);
      }
      expect(crossed).toBeGreaterThan(5);
      for (const spy of two) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of two) spy.mockRestore();
    }
    expect(await store.listByUser('u')).toHaveLength(10);
  });

  it('rotate across slots: a write of the old id between its read and the mark makes it read again, and the write is in the moved record', async () => {
    const store = new RedisStore({ client: client!, prefix: `${prefix}reread:` });
    const other = new RedisStore({ client: second!, prefix: `${prefix}reread:` });
    const [a, b] = [randomBytes(16).toString('base64url'), randomBytes(16).toString('base64url')];
    await store.set(a, { ...emptyRecord(1), data: { n: 0 } }, 60);
    const realGet = client!.get.bind(client!);
    let interloper: Promise<unknown> | undefined;
    const get = vi.spyOn(client!, 'get').mockImplementationOnce((async (key: string) => {
      const raw = await realGet(key); // rotate has read the old record...
      interloper = other.update(a, { ifExists: true, increment: { n: 1 }, lastSeen: 2 }, 60); // ...and another instance writes it
      await interloper;
      return raw;
    }) as never);
    try {
      const moved = await store.rotate(a, b, { put: { moved: true }, lastSeen: 3 }, 60);
      expect(await interloper).toMatchObject({ existed: true, written: true });
      expect(get).toHaveBeenCalledTimes(2); // the mark's compare-and-set failed: read again
      expect(moved.record?.data).toEqual({ n: 1, moved: true });
    } finally {
      get.mockRestore();
    }
    expect((await store.get(b))?.record.data).toEqual({ n: 1, moved: true });
    expect(isRotatedMark(JSON.parse((await client!.get(store.key(a)))!))).toBe(true);
  });

  it('rotate across slots: a write of the old id after the mark finds the id moved, and a destroy then does not stop the move (nor brings the mark back)', async () => {
    const store = new RedisStore({ client: client!, prefix: `${prefix}after:` });
    const other = new RedisStore({ client: second!, prefix: `${prefix}after:` });
    const [a, b] = [randomBytes(16).toString('base64url'), randomBytes(16).toString('base64url')];
    await store.set(a, { ...emptyRecord(1), data: { n: 0 } }, 60);
    const held = (await store.get(a))!;
    const realSet = client!.set.bind(client!) as (...args: unknown[]) => Promise<unknown>;
    const late: unknown[] = [];
    const set = vi.spyOn(client!, 'set').mockImplementationOnce((async (...args: unknown[]) => {
      // the old key holds the mark now: what other instances see before the new key is written
      late.push(await other.get(a));
      late.push(await other.update(a, { ifExists: true, increment: { n: 1 }, lastSeen: 2 }, 60));
      late.push(await other.update(a, { ifExists: true, increment: { n: 1 }, lastSeen: 2 }, 60, held));
      await other.destroy(a);
      return realSet(...args);
    }) as never);
    try {
      const moved = await store.rotate(a, b, { put: { moved: true }, lastSeen: 3 }, 60, held);
      expect(moved).toMatchObject({ existed: true, written: true, record: { data: { n: 0, moved: true } } });
    } finally {
      set.mockRestore();
    }
    const moved = { existed: false, written: false, consumedTokens: [], consumedFlash: {}, moved: true };
    expect(late).toEqual([undefined, moved, moved]);
    expect((await store.get(b))?.record.data).toEqual({ n: 0, moved: true });
    expect(await client!.exists(store.key(a))).toBe(0);
  });

  it('rotate that fails after the mark (the new key\'s SET) leaves the session gone, never in two places; a late change of the old id is refused as moved', async () => {
    const store = new RedisStore({ client: client!, prefix: `${prefix}halfway:` });
    const [a, b] = [randomBytes(16).toString('base64url'), randomBytes(16).toString('base64url')];
    await store.set(a, { ...emptyRecord(1), user: 'u' }, 60);
    const set = vi.spyOn(client!, 'set').mockRejectedValueOnce(new Error('Connection is closed.'));
    try {
      const err = await store.rotate(a, b, { lastSeen: 2 }, 60).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe('E_STORE');
    } finally {
      set.mockRestore();
    }
    expect(await store.get(a)).toBeUndefined(); // the mark: reads as absent, expires by itself
    expect(await client!.pttl(store.key(a))).toBeLessThanOrEqual(60_000);
    expect(await store.get(b)).toBeUndefined();
    // the change is lost either way: it is refused visibly (moved), never written
    expect(await store.update(a, { ifExists: true, put: { x: 1 }, lastSeen: 3 }, 60)).toMatchObject({ existed: false, written: false, moved: true });
    expect(await store.listByUser('u')).toEqual([]);
  });

  it('rotate across slots whose new id is taken puts the old record back over its own mark, never over another rotation\'s', async () => {
    const store = new RedisStore({ client: client!, prefix: `${prefix}undo:` });
    const [a, taken, c] = [randomBytes(16).toString('base64url'), randomBytes(16).toString('base64url'), randomBytes(16).toString('base64url')];
    await store.set(a, { ...emptyRecord(1), data: { mine: 1 } }, 60);
    await store.set(taken, emptyRecord(1), 60);
    const before = (await store.get(a))!;
    const realSet = client!.set.bind(client!) as (...args: unknown[]) => Promise<unknown>;
    let foreign = '';
    // Between this rotation's mark and its SET NX, the id is written anew (an update without
    // ifExists) and rotated away by another instance: the undo must leave that mark alone.
    const set = vi.spyOn(client!, 'set').mockImplementationOnce((async (...args: unknown[]) => {
      const other = new RedisStore({ client: second!, prefix: `${prefix}undo:` });
      await other.update(a, { put: { again: 1 }, lastSeen: 2 }, 60);
      await other.rotate(a, c, { lastSeen: 3 }, 60);
      foreign = (await client!.get(store.key(a)))!;
      return realSet(...args);
    }) as never);
    try {
      await expect(store.rotate(a, taken, { lastSeen: 4 }, 60, before)).rejects.toThrow(/new id is already taken/);
    } finally {
      set.mockRestore();
    }
    expect(isRotatedMark(JSON.parse(foreign))).toBe(true);
    expect(await client!.get(store.key(a))).toBe(foreign); // the other rotation's mark, untouched
    expect((await store.get(c))?.record.data).toEqual({ again: 1 });
  });

  it('SessionManager on a Cluster: a change lost to a regenerate fails with 409, one lost to a sign-out is dropped quietly', async () => {
    const manager = new SessionManager({ store: new RedisStore({ client: client!, prefix: `${prefix}mgr:` }), secret: testSecret() });
    const browser = new TestClient(manager);
    await browser.request((s) => s.put('cart', ['x']));
    const [slow, signIn] = [await manager.load(browser.cookie), await manager.load(browser.cookie)];
    signIn.regenerateId(true);
    await manager.commit(signIn);
    slow.put('late', true);
    await expect(manager.commit(slow)).rejects.toMatchObject({ code: 'E_SESSION_GONE', status: 409 });

    const other = new TestClient(manager);
    await other.request((s) => s.put('cart', ['y']));
    const late = await manager.load(other.cookie);
    await other.request((s) => s.destroy());
    late.put('late', true);
    expect(await manager.commit(late)).toBeUndefined();
  });
});
