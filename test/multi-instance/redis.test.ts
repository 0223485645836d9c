/** Four Express demo processes sharing one Redis (RedisStore, prefix sess-demo:). */
import { Redis } from 'ioredis';
import { RedisStore } from '@sess/store-redis';
import { requireService, SERVICES } from '@sess/test-utils';
import { fleetScenarios } from './helpers/scenarios.js';

const available = await requireService('redis');

fleetScenarios(
  {
    name: 'RedisStore (single node)',
    storeName: 'redis',
    async open() {
      return {
        env: { SESS_STORE: 'redis', REDIS_URL: SERVICES.redis.url },
        // The demo's prefix is fixed (sess-demo:), shared with the demo's own
        // tests: delete exactly the sessions this run made, never by pattern.
        async cleanup({ ids, users }) {
          const client = new Redis(SERVICES.redis.url);
          const store = new RedisStore({ client, prefix: 'sess-demo:' });
          for (const id of ids) await store.destroy(id);
          for (const user of users) await store.destroyByUser!(user);
          client.disconnect();
        },
      };
    },
  },
  available,
);
