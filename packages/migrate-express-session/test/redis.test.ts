import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import { isSessionRecord, type SessionRecord } from '@sess/core';
import { RedisStore } from '@sess/store-redis';
import { requireService } from '@sess/test-utils';
import { connectRedisSource } from '@sess/migrate-express-session';
import { describe } from 'vitest';
import { migrationScenarios } from './scenarios.js';

const hasRedis = await requireService('redis');

describe.skipIf(!hasRedis)('connect-redis (ioredis) to RedisStore', () => {
  // One prefix for both stores, as an app that keeps connect-redis's default
  // `sess:` for sess too: old ids (32 characters) and sess ids (43) share it.
  const prefix = `mig-${randomBytes(4).toString('hex')}:sess:`;
  const client = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
  const keys = async () => {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
    return found;
  };

  migrationScenarios('express-session + connect-redis, then sess + RedisStore on the same Redis', async () => {
    await client.connect();
    return {
      oldStore: new ConnectRedisStore({ client, prefix }),
      newStore: new RedisStore({ client, prefix }),
      source: connectRedisSource({ client, prefix }),
      async oldExpiry(id) {
        const ttl = await client.pttl(prefix + id);
        return ttl > 0 ? Date.now() + ttl : undefined;
      },
      async newRecords() {
        const out: Array<{ id: string; record: SessionRecord }> = [];
        for (const key of await keys()) {
          const id = key.slice(prefix.length);
          if (id.length !== 43) continue; // an old record or the user index
          const text = await client.get(key);
          const record: unknown = text && JSON.parse(text);
          if (isSessionRecord(record)) out.push({ id, record });
        }
        return out;
      },
      async close() {
        const all = await keys();
        if (all.length > 0) await client.del(...all);
        client.disconnect();
      },
    };
  });
});
