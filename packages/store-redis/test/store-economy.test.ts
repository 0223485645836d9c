/**
 * Store calls per request on RedisStore (the core README's table), through a
 * SessionManager and the request lifecycle over real HTTP, on the Redis at
 * 127.0.0.1:6379; every command the client sends is counted too.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { startLifecycleEconomyApp, requireService, testStoreEconomy } from '@sess/test-utils';
import { RedisStore } from '@sess/store-redis';
import { Redis } from 'ioredis';

const hasRedis = await requireService('redis');
const prefix = `sess-test-economy:${process.pid}-${randomBytes(4).toString('hex')}:`;
let client: Redis | undefined;
let commands = 0;

testStoreEconomy({
  name: 'RedisStore',
  skip: !hasRedis,
  store: async () => {
    client = new Redis({ host: '127.0.0.1', port: 6379, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    if (client.status !== 'ready') await once(client, 'ready');
    const send = client.sendCommand.bind(client);
    client.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => (commands++, send(...args))) as Redis['sendCommand'];
    return new RedisStore({ client, prefix });
  },
  /**
   * Commands per store call: `get` one GET; `set` one command; `update` one
   * EVALSHA of the compare-and-set script (the stored text is the version);
   * `rotate` one EVALSHA of the rotate script.
   */
  backend: () => ({ what: 'Redis commands', reset: () => void (commands = 0), total: () => commands, perCall: { get: 1, set: 1, update: 1, rotate: 1 } }),
  start: startLifecycleEconomyApp,
  cleanup: async () => {
    if (!client) return;
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await client.del(...keys);
    } while (cursor !== '0');
    await client.quit();
  },
});
