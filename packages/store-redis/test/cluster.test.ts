import { randomBytes } from 'node:crypto';
import { emptyRecord } from '@sess/core';
import { testStore } from '@sess/core/testing';
import { RedisStore } from '@sess/store-redis';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from './cluster.js';
import { hasRedisBinaries } from './redis-server.js';

const runnable = hasRedisBinaries();

let cluster: TestCluster | undefined;
let client: Cluster | undefined;

beforeAll(async () => {
  if (!runnable) return;
  cluster = await startCluster();
  client = new Cluster(cluster.nodes, { enableOfflineQueue: true, redisOptions: { maxRetriesPerRequest: 1, commandTimeout: 2000 } });
  await new Promise<void>((resolve, reject) => {
    client!.once('ready', resolve);
    client!.once('error', reject);
  });
});

afterAll(async () => {
  client?.disconnect();
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
});
