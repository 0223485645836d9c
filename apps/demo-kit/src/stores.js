import { createConnection } from 'node:net';
import { join } from 'node:path';
import { DemoSetupError } from './errors.js';

/** The values SESS_STORE accepts, the first being the default. */
export const STORE_NAMES = ['file', 'sqlite', 'postgres', 'mysql', 'redis', 'redis-cluster'];

const DEFAULT_URLS = {
  postgres: 'postgres://postgres@127.0.0.1:5432/test',
  mysql: 'mysql://root@127.0.0.1:3306/test',
  redis: 'redis://127.0.0.1:6379',
};

const HOW_TO_START = {
  postgres: 'start it with `sudo pg_ctlcluster <version> main start` (or `sudo service postgresql start`), or set DATABASE_URL',
  mysql: 'start it with `sudo service mariadb start` (or `sudo service mysql start`), or set DATABASE_URL',
  redis: 'start it with `redis-server --daemonize yes` (or `sudo service redis-server start`), or set REDIS_URL',
};

const LABELS = { postgres: 'PostgreSQL', mysql: 'MySQL/MariaDB', redis: 'Redis' };

/**
 * @typedef {object} OpenedStore
 * @property {import('@sess/core').Store} store  the store to give to the session middleware
 * @property {string} name         the SESS_STORE value (`file`, `sqlite`, …)
 * @property {string} description  what holds the sessions, for people ("FileStore in /…/.sess-data/sessions")
 * @property {() => Promise<void>} close  closes the store and the connection the demo opened for it
 */

/**
 * Opens the store SESS_STORE names, checking first that its server answers, so
 * that a missing server is one clear line rather than a stack trace. Failures
 * of the store while the demo runs are logged, one line each.
 * @param {{ dataDir: string, env?: NodeJS.ProcessEnv, log?: (line: string) => void }} options
 * @returns {Promise<OpenedStore>}
 */
export async function openStore({ dataDir, env = process.env, log = (/** @type {string} */ line) => console.error(line) }) {
  const opened = await open({ dataDir, env });
  return { ...opened, store: logFailures(opened.store, log) };
}

/**
 * The store as the session manager sees it, with every failed call logged as
 * one line (the visitor gets the 503 page; the person running the demo needs
 * to know why). Calls go to the store itself, so its private state works.
 * @template {object} S
 * @param {S} store
 * @param {(line: string) => void} log
 * @returns {S}
 */
export function logFailures(store, log) {
  const label = store.constructor?.name ?? 'store';
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function' || prop === 'constructor') return value;
      return (/** @type {unknown[]} */ ...args) => {
        const result = value.apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.catch((/** @type {unknown} */ err) => {
          const message = err instanceof Error ? err.message : String(err);
          log(`error: the session store failed (${label}.${String(prop)}): ${message.replace(/\s*\n\s*/g, ' ')}`);
          throw err;
        });
      };
    },
  });
}

/**
 * @param {{ dataDir: string, env?: NodeJS.ProcessEnv }} options
 * @returns {Promise<OpenedStore>}
 */
async function open({ dataDir, env = process.env }) {
  const name = (env.SESS_STORE || 'file').trim().toLowerCase();
  switch (name) {
    case 'file': {
      const { FileStore } = await import('@sess/store-file');
      const dir = join(dataDir, 'sessions');
      const store = new FileStore({ dir });
      return { store, name, description: `FileStore in ${dir}`, close: () => store.close() };
    }
    case 'sqlite': {
      const filename = join(dataDir, 'sessions.sqlite3');
      const { mkdirSync } = await import('node:fs');
      mkdirSync(dataDir, { recursive: true });
      return openKnex(name, { client: 'better-sqlite3', connection: { filename }, useNullAsDefault: true }, `KnexStore on SQLite (${filename})`);
    }
    case 'postgres': {
      const url = env.DATABASE_URL || DEFAULT_URLS.postgres;
      await ensureReachable(name, url, 5432);
      return openKnex(name, { client: 'pg', connection: url, pool: { min: 0, max: 5 } }, `KnexStore on PostgreSQL (${redact(url)})`);
    }
    case 'mysql': {
      const url = env.DATABASE_URL || DEFAULT_URLS.mysql;
      await ensureReachable(name, url, 3306);
      return openKnex(name, { client: 'mysql2', connection: url, pool: { min: 0, max: 5 } }, `KnexStore on MySQL/MariaDB (${redact(url)})`);
    }
    case 'redis': {
      const url = env.REDIS_URL || DEFAULT_URLS.redis;
      await ensureReachable(name, url, 6379);
      const { Redis } = await import('ioredis');
      const { RedisStore } = await import('@sess/store-redis');
      // Fail fast rather than queue commands forever while Redis is down.
      const client = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 2000 });
      client.on('error', () => {}); // reported through the failing commands (503 pages) instead
      try {
        await client.connect();
        await client.ping();
      } catch (err) {
        client.disconnect();
        throw new DemoSetupError(`Redis at ${redact(url)} refused the demo: ${/** @type {Error} */ (err).message}; check REDIS_URL.`);
      }
      const store = new RedisStore({ client, prefix: 'sess-demo:' });
      return {
        store,
        name,
        description: `RedisStore on ${redact(url)} (keys sess-demo:*)`,
        close: async () => {
          await store.close?.();
          client.disconnect();
        },
      };
    }
    case 'redis-cluster': {
      // REDIS_CLUSTER_NODES=host:port,host:port,…: the startup nodes; the client
      // learns the rest of the cluster from them.
      const nodes = (env.REDIS_CLUSTER_NODES || '').split(',').map((s) => s.trim()).filter(Boolean).map((hostPort) => {
        const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(hostPort);
        if (!match) throw new DemoSetupError(`REDIS_CLUSTER_NODES has "${hostPort}": list host:port pairs separated by commas.`);
        return { host: match[1], port: Number(match[2]) };
      });
      if (nodes.length === 0) throw new DemoSetupError('SESS_STORE=redis-cluster needs REDIS_CLUSTER_NODES=host:port,host:port,… (the startup nodes of the cluster).');
      const { Cluster } = await import('ioredis');
      const { RedisStore } = await import('@sess/store-redis');
      const list = nodes.map((n) => `${n.host}:${n.port}`).join(',');
      // Fail fast as for a single node: no offline queue, one retry, short timeouts.
      const client = new Cluster(nodes, { lazyConnect: true, enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 2000 } });
      client.on('error', () => {}); // reported through the failing commands (503 pages) instead
      try {
        let timer;
        const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000)));
        await Promise.race([client.connect(), timeout]).finally(() => clearTimeout(timer));
        await client.ping();
      } catch (err) {
        client.disconnect();
        throw new DemoSetupError(`Redis Cluster at ${list} refused the demo: ${/** @type {Error} */ (err).message}; check REDIS_CLUSTER_NODES.`);
      }
      const store = new RedisStore({ client, prefix: 'sess-demo:' });
      return {
        store,
        name,
        description: `RedisStore on the Redis Cluster ${list} (keys sess-demo:*)`,
        close: async () => {
          await store.close?.();
          client.disconnect();
        },
      };
    }
    default:
      throw new DemoSetupError(`SESS_STORE=${name} is not a store this demo knows: use one of ${STORE_NAMES.join(', ')}.`);
  }
}

/**
 * @param {string} name
 * @param {import('knex').Knex.Config} config
 * @param {string} description
 * @returns {Promise<OpenedStore>}
 */
async function openKnex(name, config, description) {
  const { default: knex } = await import('knex');
  const { KnexStore } = await import('@sess/store-knex');
  // Why a quiet logger during the probe: knex prints a stack for a refused
  // connection, and the demo explains it in one line instead.
  let quiet = true;
  const warn = (/** @type {unknown} */ message) => {
    if (!quiet) console.warn(message);
  };
  const db = knex({ ...config, log: { warn, error: warn, deprecate: warn, debug() {} } });
  try {
    await db.raw('select 1');
    quiet = false;
  } catch (err) {
    await db.destroy();
    const label = name === 'sqlite' ? 'SQLite' : LABELS[/** @type {'postgres' | 'mysql'} */ (name)];
    throw new DemoSetupError(`${label} refused the demo: ${/** @type {Error} */ (err).message}; check ${name === 'sqlite' ? 'that better-sqlite3 is installed (pnpm install)' : 'DATABASE_URL'}.`);
  }
  const store = new KnexStore({ knex: db, tableName: 'sess_demo_sessions', createTable: true });
  return {
    store,
    name,
    description,
    close: async () => {
      await store.close();
      await db.destroy();
    },
  };
}

/**
 * One TCP connection attempt, so "nothing listens there" reads as what it is.
 * @param {'postgres' | 'mysql' | 'redis'} name
 * @param {string} url
 * @param {number} defaultPort
 */
async function ensureReachable(name, url, defaultPort) {
  let host;
  let port;
  try {
    const parsed = new URL(url);
    host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
    port = Number(parsed.port || defaultPort);
  } catch {
    throw new DemoSetupError(`${name === 'redis' ? 'REDIS_URL' : 'DATABASE_URL'} is not a URL: ${redact(url)}.`);
  }
  const reachable = await new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (/** @type {boolean} */ ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
  if (!reachable) throw new DemoSetupError(`${LABELS[name]} is not reachable at ${host}:${port}: ${HOW_TO_START[name]}.`);
}

/** A URL fit to print: without its password. */
function redact(/** @type {string} */ url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}
