/**
 * The real backends every check runs against: a factory per store that opens a
 * fresh, private instance (own table, own key prefix, own folder) and removes it
 * afterwards. Nothing here touches data of other suites.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore, type Store } from '@sess/core';
import { FileStore } from '@sess/store-file';
import { KnexStore } from '@sess/store-knex';
import { RedisStore } from '@sess/store-redis';
import { requireService } from '@sess/test-utils';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import knexFactory, { type Knex } from 'knex';
import { startCluster } from '../../../packages/store-redis/test/cluster.js';

export const tag = () => randomBytes(5).toString('hex');

/** The ioredis settings the store-redis docs recommend: fail fast, never queue while down. */
export const FAIL_FAST: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  commandTimeout: 2000,
  retryStrategy: (times) => Math.min(times * 50, 500),
};

export interface OpenBackend {
  store: Store;
  /** Removes everything the backend made (table, keys, folder) and closes clients. */
  close(): Promise<void>;
}

export interface Backend {
  name: string;
  /** Requests per client of the load run (lower for the slow backends: see the report). */
  requestsPerClient: number;
  available(): Promise<boolean>;
  open(): Promise<OpenBackend>;
}

/** Waits until an ioredis client is connected, so enableOfflineQueue: false does not refuse the first command. */
export async function connected(client: Redis | Cluster): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`[sess test] redis client not ready in 10 s (${client.status})`)), 10_000);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function deleteByPrefix(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}

export const pgConnection = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };
export const mariaConnection = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' };

function knexBackend(name: string, requestsPerClient: number, available: () => Promise<boolean>, connect: () => { knex: Knex; dispose?: () => void }): Backend {
  return {
    name,
    requestsPerClient,
    available,
    async open() {
      const { knex, dispose } = connect();
      const tableName = `rel_sessions_${tag()}`;
      const store = new KnexStore({ knex, tableName, createTable: true, pruneInterval: 0 });
      return {
        store,
        async close() {
          await store.close?.();
          await knex.schema.dropTableIfExists(tableName);
          await knex.destroy();
          dispose?.();
        },
      };
    },
  };
}

export const BACKENDS: Backend[] = [
  {
    name: 'memory',
    requestsPerClient: 200,
    available: async () => true,
    async open() {
      const store = new MemoryStore();
      return { store, close: async () => void (await store.close?.()) };
    },
  },
  {
    name: 'file',
    requestsPerClient: 200,
    available: async () => true,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'sess-rel-file-'));
      const store = new FileStore({ dir, sweepInterval: 0 });
      return {
        store,
        async close() {
          await store.close?.();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  knexBackend('knex sqlite', 200, async () => true, () => {
    const dir = mkdtempSync(join(tmpdir(), 'sess-rel-sqlite-'));
    const knex = knexFactory({ client: 'better-sqlite3', connection: { filename: join(dir, 'sessions.db') }, useNullAsDefault: true, pool: { min: 1, max: 1 } });
    return { knex, dispose: () => rmSync(dir, { recursive: true, force: true }) };
  }),
  knexBackend('knex postgres', 200, () => requireService('postgres'), () => ({
    knex: knexFactory({ client: 'pg', connection: { ...pgConnection, application_name: `sess-rel-${process.pid}` }, pool: { min: 0, max: 10 } }),
  })),
  knexBackend('knex mariadb', 200, () => requireService('mysql'), () => ({
    knex: knexFactory({ client: 'mysql2', connection: mariaConnection, pool: { min: 0, max: 10 } }),
  })),
  {
    name: 'redis',
    requestsPerClient: 200,
    available: () => requireService('redis'),
    async open() {
      const client = new Redis({ host: '127.0.0.1', port: 6379, ...FAIL_FAST });
      await connected(client);
      const prefix = `sess-rel:${tag()}:`;
      const store = new RedisStore({ client, prefix });
      return {
        store,
        async close() {
          await deleteByPrefix(client, prefix);
          client.disconnect();
        },
      };
    },
  },
  {
    name: 'redis cluster',
    requestsPerClient: 200,
    // The cluster is made of private redis-server processes: it needs the binary, not the shared Redis.
    available: () => requireService('redis'),
    async open() {
      const cluster = await startCluster();
      const client = new Cluster(cluster.nodes, { enableOfflineQueue: false, redisOptions: { ...FAIL_FAST } });
      await connected(client);
      const store = new RedisStore({ client, prefix: 'sess-rel:' });
      return {
        store,
        async close() {
          client.disconnect();
          await cluster.stop();
        },
      };
    },
  },
];

export const backend = (name: string): Backend => {
  const found = BACKENDS.find((b) => b.name === name);
  if (!found) throw new Error(`no backend ${name}`);
  return found;
};
