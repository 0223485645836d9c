import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { SessionManager, StoreError } from '@sess/core';
import { TestClient, testSecret } from '@sess/core/testing';
import { RedisStore } from '@sess/store-redis';
import { requireService } from '@sess/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const hasRedis = await requireService('redis');
const prefix = `sess-test-redis-mgr:${process.pid}-${randomBytes(4).toString('hex')}:`;
let client: Redis;
let store: RedisStore;

beforeAll(async () => {
  if (!hasRedis) return;
  client = new Redis({ host: '127.0.0.1', port: 6379, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  if (client.status !== 'ready') await once(client, 'ready');
  store = new RedisStore({ client, prefix });
});

afterAll(async () => {
  if (!hasRedis) return;
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  if (keys.length) await client.del(...keys);
  await client.quit();
});

describe.skipIf(!hasRedis)('SessionManager with RedisStore', () => {
  it('carries data, flash and counters across requests, and consumes a CSRF token once', async () => {
    const manager = new SessionManager({ store, secret: testSecret() });
    const browser = new TestClient(manager);
    const { result: token } = await browser.request((s) => {
      s.put('name', 'Ada');
      s.flash('notice', 'saved');
      return s.generateToken();
    });
    const { result: seen } = await browser.request((s) => [s.get('name'), s.flash('notice'), s.increment('visits')]);
    expect(seen).toEqual(['Ada', 'saved', 1]);
    const { result: later } = await browser.request((s) => [s.flash('notice'), s.get('visits')]);
    expect(later).toEqual([undefined, 1]);

    const session = await manager.load(browser.cookie);
    const twice = await Promise.all([manager.consumeToken(session, token), manager.consumeToken(await manager.load(browser.cookie), token)]);
    expect(twice.filter(Boolean)).toHaveLength(1);
  });

  it('lists a user\'s sessions and signs them out everywhere but here', async () => {
    const manager = new SessionManager({ store, secret: testSecret() });
    const user = `user-${randomBytes(4).toString('hex')}`;
    const [laptop, phone, tablet] = [new TestClient(manager), new TestClient(manager), new TestClient(manager)];
    for (const [browser, agent] of [[laptop, 'laptop'], [phone, 'phone'], [tablet, 'tablet']] as const) {
      await browser.request((s) => s.setUser(user, { userAgent: agent }));
    }
    const here = await manager.load(laptop.cookie);
    const listed = await manager.listSessions(user, { current: here });
    expect(listed.map((s) => s.details.userAgent).sort()).toEqual(['laptop', 'phone', 'tablet']);
    expect(listed.filter((s) => s.current).map((s) => s.details.userAgent)).toEqual(['laptop']);
    expect(await manager.destroySessions(user, { except: here })).toBe(2);
    const { session: phoneNow } = await phone.request((s) => s);
    expect(phoneNow.isNew).toBe(true);
    expect((await manager.listSessions(user)).map((s) => s.details.userAgent)).toEqual(['laptop']);
  });

  it('a change lost to a regenerate fails with 409 (the old id says moved); one lost to a sign-out is dropped quietly', async () => {
    const manager = new SessionManager({ store, secret: testSecret() });
    const browser = new TestClient(manager);
    await browser.request((s) => s.put('cart', ['x']));
    const [slow, reader, signIn] = await Promise.all([manager.load(browser.cookie), manager.load(browser.cookie), manager.load(browser.cookie)]);
    signIn.regenerateId(true);
    await manager.commit(signIn);
    slow.put('late', true);
    await expect(manager.commit(slow)).rejects.toMatchObject({ name: 'SessionGoneError', code: 'E_SESSION_GONE', status: 409 });
    reader.get('cart');
    expect(await manager.commit(reader)).toBeUndefined(); // it only read: nothing lost
    expect((await manager.load(browser.cookie)).isNew).toBe(true); // the old id reads as absent

    const other = new TestClient(manager);
    await other.request((s) => s.put('cart', ['y']));
    const late = await manager.load(other.cookie);
    await other.request((s) => s.destroy());
    late.put('late', true);
    expect(await manager.commit(late)).toBeUndefined();
  });

  it('surfaces a failing Redis as a StoreError from load, never as a fresh session', async () => {
    const broken = new Redis({ host: '127.0.0.1', port: 1, enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => null });
    broken.on('error', () => {});
    const secret = testSecret();
    const manager = new SessionManager({ store: new RedisStore({ client: broken }), secret });
    const good = new SessionManager({ store, secret });
    const browser = new TestClient(manager);
    browser.cookie = (await new TestClient(good).request((s) => s.put('a', 1))).setCookie?.split(';')[0];
    await expect(manager.load(browser.cookie)).rejects.toBeInstanceOf(StoreError);
    broken.disconnect();
  });
});
