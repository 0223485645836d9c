import { once } from 'node:events';
import { emptyRecord, StoreError } from '@sess/core';
import { RedisStore } from '@sess/store-redis';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasRedisBinaries, startRedisServer, type RedisServer } from './redis-server.js';

const runnable = hasRedisBinaries();

let server: RedisServer;
const clients: Redis[] = [];

beforeAll(async () => {
  if (!runnable) return;
  server = await startRedisServer();
});

afterAll(async () => {
  for (const client of clients) client.disconnect();
  await server?.stop();
});

async function connect(options: RedisOptions): Promise<Redis> {
  const client = new Redis({ host: '127.0.0.1', port: server.port, ...options });
  client.on('error', () => {}); // connection errors surface through the store's StoreError
  clients.push(client);
  if (client.status !== 'ready') await once(client, 'ready');
  return client;
}

async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The rejection and how long it took. */
async function timed(call: Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const start = performance.now();
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { err, ms: performance.now() - start };
}

// The two ioredis configurations the README recommends for bounded failures.
const configs: Array<[string, RedisOptions]> = [
  ['enableOfflineQueue: false', { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 1000, commandTimeout: 1000, retryStrategy: (n) => Math.min(n * 50, 500) }],
  ['offline queue with maxRetriesPerRequest: 1 and commandTimeout', { maxRetriesPerRequest: 1, connectTimeout: 1000, commandTimeout: 1000, retryStrategy: (n) => Math.min(n * 50, 500) }],
];

describe.skipIf(!runnable).each(configs)('RedisStore when Redis goes away and comes back (%s)', (name, options) => {
  it('rejects every call with a StoreError within 2 s, then works again with the same store and client', async () => {
    const client = await connect(options);
    const store = new RedisStore({ client, prefix: `outage:${configs.findIndex(([n]) => n === name)}:` });
    await store.update('s', { put: { a: 1 }, user: 'u', lastSeen: 1 }, 60);
    expect((await store.get('s'))?.record.data).toEqual({ a: 1 });

    await server.kill();
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['get', () => store.get('s')],
      ['set', () => store.set('s', emptyRecord(1), 60)],
      ['update', () => store.update('s', { put: { b: 2 }, lastSeen: 2 }, 60)],
      ['rotate', () => store.rotate('s', 's2', { lastSeen: 2 }, 60)],
      ['destroy', () => store.destroy('s')],
      ['listByUser', () => store.listByUser('u')],
      ['destroyByUser', () => store.destroyByUser('u')],
      ['prune', () => store.prune()],
    ];
    for (const [name, call] of calls) {
      const { err, ms } = await timed(call());
      expect(err, name).toBeInstanceOf(StoreError);
      expect((err as StoreError).message, name).toMatch(/^\[sess\] RedisStore could not .*configure ioredis to fail fast/);
      expect(ms, name).toBeLessThan(2000);
    }

    const restarted = performance.now();
    await server.start(); // same port, empty: no data, no cached scripts
    await until(() => client.status === 'ready', 5000);
    // The scripts are gone from the new server: EVALSHA gets NOSCRIPT and falls back to EVAL.
    const result = await store.update('s', { put: { back: true }, user: 'u', lastSeen: 3 }, 60);
    expect(result).toMatchObject({ existed: false, written: true });
    expect(await store.rotate('s', 's2', { lastSeen: 4 }, 60)).toMatchObject({ existed: true, written: true });
    expect(await store.update('s', { ifExists: true, put: { late: 1 }, lastSeen: 5 }, 60)).toMatchObject({ existed: false, written: false, moved: true });
    // the old id keeps its rotated mark, and a mark counts as taken for a rotation onto it
    await expect(store.rotate('s2', 's', { lastSeen: 5 }, 60)).rejects.toThrow(/new id is already taken/);
    expect(await store.rotate('s2', 's3', { lastSeen: 5 }, 60)).toMatchObject({ existed: true, written: true });
    expect((await store.get('s3'))?.record.data).toEqual({ back: true });
    expect((await store.listByUser('u')).map((s) => s.id)).toEqual(['s3']);
    expect(performance.now() - restarted).toBeLessThan(5000);
  });
});

describe.skipIf(!runnable)('RedisStore command use', () => {
  it('never sends KEYS, lists with SCAN, and calls its scripts by hash', async () => {
    const client = await connect({ maxRetriesPerRequest: 1 });
    const store = new RedisStore({ client, prefix: 'cmds:' });
    await client.config('RESETSTAT');
    await client.script('FLUSH');
    for (let i = 0; i < 20; i++) {
      await store.set(`s${i}`, { ...emptyRecord(1), user: `u${i % 3}` }, 60);
      await store.update(`s${i}`, { increment: { n: 1 }, lastSeen: 2 }, 60);
      const held = await store.get(`s${i}`);
      await store.update(`s${i}`, { ifExists: true, increment: { n: 1 }, lastSeen: 3 }, 60, held);
    }
    await store.listByUser('u0');
    await store.destroyByUser('u1', 's1');
    await store.prune();
    await store.destroy('s0');
    const stats = Object.fromEntries(
      ((await client.info('commandstats')) as string)
        .split('\n')
        .filter((line) => line.startsWith('cmdstat_'))
        .map((line) => [line.slice(8, line.indexOf(':')), Number(/calls=(\d+)/.exec(line)![1])]),
    );
    expect(stats.keys).toBeUndefined();
    expect(stats.scan).toBeGreaterThan(0);
    expect(stats.evalsha).toBeGreaterThanOrEqual(60); // 20 updates, 20 compare-and-sets, 20+ index calls
    expect(stats.eval ?? 0).toBeLessThanOrEqual(3); // each script sent whole once at most
  });

  it('rotate is one EVALSHA over both keys on the server: no GET, SET or DEL beside it, the mark written inside', async () => {
    const client = await connect({ maxRetriesPerRequest: 1 });
    const store = new RedisStore({ client, prefix: 'rot:' });
    await store.set('a', emptyRecord(1), 60);
    await store.set('c', emptyRecord(1), 60);
    const held = await store.get('c');
    await store.rotate('warm', 'up', { lastSeen: 1 }, 60); // loads the script (EVAL on NOSCRIPT)
    await store.rotate('warm', 'up', { lastSeen: 1 }, 60, { record: emptyRecord(1), version: '{}' });
    // MONITOR shows every command the server runs, those a script runs marked "lua".
    const monitor = await client.monitor();
    const seen: Array<{ command: string; source: string }> = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => seen.push({ command: args[0]!.toLowerCase(), source }));
    await client.ping('sync'); // the monitor is attached: the next commands are all seen
    expect(await store.rotate('a', 'b', { put: { x: 1 }, lastSeen: 2 }, 60)).toMatchObject({ written: true });
    expect(await store.rotate('c', 'd', { put: { x: 1 }, lastSeen: 2 }, 60, held)).toMatchObject({ written: true });
    await client.ping('done');
    await until(() => seen.filter((s) => s.command === 'ping').length >= 2, 2000);
    monitor.disconnect();
    const start = seen.findIndex((s) => s.command === 'ping');
    const end = seen.findLastIndex((s) => s.command === 'ping');
    const between = seen.slice(start + 1, end);
    expect(between.filter((s) => s.source !== 'lua').map((s) => s.command)).toEqual(['evalsha', 'evalsha']);
    // inside the scripts: the reads and writes of both keys (the second SET: the rotated mark under the old key)
    expect(between.filter((s) => s.source === 'lua').map((s) => s.command)).toEqual(['get', 'exists', 'set', 'set', 'get', 'exists', 'set', 'set']);
  });

  it('Redis out of memory is E_STORE (503: the backend is unwell), not a refused value', async () => {
    const client = await connect({ maxRetriesPerRequest: 1 });
    const store = new RedisStore({ client, prefix: 'oom:' });
    await store.set('s', emptyRecord(1), 60);
    await client.config('SET', 'maxmemory', '1');
    try {
      for (const call of [() => store.set('t', emptyRecord(1), 60), () => store.update('s', { put: { a: 1 }, lastSeen: 2 }, 60), () => store.rotate('s', 'u', { lastSeen: 2 }, 60)]) {
        const err = await call().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreError);
        expect((err as StoreError).code).toBe('E_STORE');
        expect((err as StoreError).status).toBe(503);
        expect((err as StoreError).message).toMatch(/could not .*OOM command not allowed/);
      }
    } finally {
      await client.config('SET', 'maxmemory', '0');
    }
    expect((await store.get('s'))?.record).toEqual(emptyRecord(1));
  });
});
