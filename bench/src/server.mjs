// One benchmark server, run in its own child process by run.mjs:
//   node src/server.mjs <scenario-id>
// Listens on 127.0.0.1 (ephemeral port), reports the port over IPC, then answers
// "start" (reset counters) and "stop" (report CPU time, requests served and
// store/backend command counts for the window) from the parent.
//
// Every scenario has the same two routes:
//   GET /read   reads one key ("n") of the session and answers {"n": ...}
//   GET /write  increments "n" and answers {"n": ...}
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SCENARIOS } from './scenarios.mjs';
import { PG, REDIS, SECRET, PREFIX } from './config.mjs';

const id = process.argv[2];
const scenario = SCENARIOS.find((s) => s.id === id);
if (!scenario) {
  console.error(`unknown scenario ${id}`);
  process.exit(2);
}

// ---- counters -----------------------------------------------------------------
/** Store method calls (get/set/update/rotate/destroy; touch for express-session stores) and backend commands (Redis commands, SQL queries). */
const counts = { store: {}, backend: {} };
const bump = (kind, name) => (counts[kind][name] = (counts[kind][name] ?? 0) + 1);

/** Wraps a store's methods in place (own properties shadow the prototype; private fields keep working). */
function countStore(store, methods, alias = {}) {
  for (const m of methods) {
    if (typeof store[m] !== 'function') continue;
    const original = store[m].bind(store);
    const name = alias[m] ?? m;
    store[m] = (...args) => {
      bump('store', name);
      return original(...args);
    };
  }
  return store;
}

/** Counts every command an ioredis client sends (EVALSHA included), by name. */
function countRedis(client) {
  const original = client.sendCommand.bind(client);
  client.sendCommand = (command, ...rest) => {
    bump('backend', `redis:${command?.name ?? '?'}`);
    return original(command, ...rest);
  };
  return client;
}

const sqlVerb = (sql) => `sql:${String(sql).trim().split(/[\s;(]+/)[0].toLowerCase()}`;

/** Counts SQL statements knex sends, by verb. */
function countKnex(knex) {
  knex.on('query', (q) => bump('backend', sqlVerb(q.sql)));
  return knex;
}

/** Counts SQL statements a pg Pool runs (connect-pg-simple queries the pool), by verb. */
function countPgPool(pool) {
  const original = pool.query.bind(pool);
  pool.query = (text, ...rest) => {
    bump('backend', sqlVerb(typeof text === 'string' ? text : text?.text));
    return original(text, ...rest);
  };
  return pool;
}

/**
 * Counts the statements run on a better-sqlite3 database, by verb: every
 * statement it prepares (now or later, cached or not) counts each run/get/all.
 * KnexStore runs its writes natively on the connection, so knex's query event
 * does not see them; this does.
 */
function countBetterSqlite(db) {
  if (db.__sessBenchCounted) return db;
  db.__sessBenchCounted = true;
  const prepare = db.prepare.bind(db);
  db.prepare = (sql, ...rest) => {
    const statement = prepare(sql, ...rest);
    const name = sqlVerb(sql);
    for (const m of ['run', 'get', 'all']) {
      const original = statement[m].bind(statement);
      statement[m] = (...args) => {
        if (counting) bump('backend', name);
        return original(...args);
      };
    }
    return statement;
  };
  return db;
}
/** Off while stores set up their tables, so the counts are what requests cost. */
let counting = true;

const cleanups = [];
const tmpDirs = [];
function tmp(name) {
  const dir = mkdtempSync(path.join(tmpdir(), `sess-bench-${name}-`));
  tmpDirs.push(dir);
  return dir;
}

async function redisClient() {
  const { Redis } = await import('ioredis');
  const client = new Redis({ host: REDIS.host, port: REDIS.port, lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  cleanups.push(async () => {
    // Only our own keys: never FLUSHALL on a shared server.
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await client.del(...keys);
    } while (cursor !== '0');
    client.disconnect();
  });
  return countRedis(client);
}

async function knexClient(kind) {
  const { default: knexFactory } = await import('knex');
  const knex =
    kind === 'pg'
      ? knexFactory({ client: 'pg', connection: PG, pool: { min: 1, max: 10 } })
      : knexFactory({
          client: 'better-sqlite3',
          connection: { filename: path.join(tmp('sqlite'), 'sess.sqlite') },
          useNullAsDefault: true,
          // Count the statements KnexStore runs natively on the connection (knex's query event misses them).
          pool: { afterCreate: (db, done) => done(null, countBetterSqlite(db)) },
        });
  cleanups.push(() => knex.destroy());
  return knex;
}

// ---- @sess stores -----------------------------------------------------------
const SESS_METHODS = ['get', 'set', 'update', 'rotate', 'destroy'];

async function sessStore(kind) {
  switch (kind) {
    case 'memory': {
      const { MemoryStore } = await import('@sess/core');
      return new MemoryStore();
    }
    case 'file': {
      const { FileStore } = await import('@sess/store-file');
      return new FileStore({ dir: tmp('file') });
    }
    case 'sqlite':
    case 'pg': {
      const { KnexStore } = await import('@sess/store-knex');
      const knex = await knexClient(kind);
      const tableName = `${PREFIX.replace(/:/g, '_')}sessions`;
      if (kind === 'pg') await knex.schema.dropTableIfExists(tableName);
      const store = new KnexStore({ knex, tableName, createTable: true });
      // Create the table (and on SQLite switch to WAL, the default) before measuring: count only what requests cost.
      counting = false;
      await store.get('warm-up-no-such-id');
      counting = true;
      // On SQLite every statement, knex's included, goes through the counted prepare().
      if (kind === 'pg') countKnex(knex);
      if (kind === 'pg') cleanups.push(() => knex.schema.dropTableIfExists(tableName));
      return store;
    }
    case 'redis': {
      const { RedisStore } = await import('@sess/store-redis');
      return new RedisStore({ client: await redisClient(), prefix: `${PREFIX}sess:` });
    }
    default:
      throw new Error(`no @sess store ${kind}`);
  }
}

async function sessManager(kind) {
  const { SessionManager } = await import('@sess/core');
  const store = countStore(await sessStore(kind), SESS_METHODS);
  cleanups.push(() => store.close?.());
  return new SessionManager({ secret: SECRET, store, cookie: { secure: false } });
}

// ---- express-session stores -----------------------------------------------------
const ES_METHODS = ['get', 'set', 'touch', 'destroy'];

async function expressSessionStore(kind, expressSession) {
  switch (kind) {
    case 'memory':
      return new expressSession.MemoryStore();
    case 'redis': {
      const { RedisStore } = await import('connect-redis');
      return new RedisStore({ client: await redisClient(), prefix: `${PREFIX}cr:` });
    }
    case 'pg': {
      const { ConnectSessionKnexStore } = await import('connect-session-knex');
      const knex = await knexClient('pg');
      const tableName = `${PREFIX.replace(/:/g, '_')}connect`;
      await knex.schema.dropTableIfExists(tableName);
      const store = new ConnectSessionKnexStore({ knex, tableName, cleanupInterval: 0 });
      await store.ready;
      countKnex(knex);
      cleanups.push(() => knex.schema.dropTableIfExists(tableName));
      return store;
    }
    case 'pg-simple': {
      // connect-pg-simple, the most used PostgreSQL store, on its own pg Pool (its README's set-up).
      const { default: pg } = await import('pg');
      const { default: connectPgSimple } = await import('connect-pg-simple');
      const pool = new pg.Pool({ ...PG, max: 10 });
      const tableName = `${PREFIX.replace(/:/g, '_')}pgsimple`;
      await pool.query(`drop table if exists ${tableName}`);
      const PgStore = connectPgSimple(expressSession);
      const store = new PgStore({ pool, tableName, createTableIfMissing: true, pruneSessionInterval: false });
      // Create the table before measuring (its first query does), then count.
      await new Promise((resolve, reject) => store.get('warm-up-no-such-id', (err) => (err ? reject(err) : resolve())));
      countPgPool(pool);
      cleanups.push(async () => {
        await pool.query(`drop table if exists ${tableName}`);
        await pool.end();
      });
      return store;
    }
    case 'sqlite': {
      // better-sqlite3-session-store (connect-sqlite3 needs the sqlite3 package, whose install
      // downloads a prebuilt binary: not available here). Set up as its README shows.
      const { default: Database } = await import('better-sqlite3');
      const { default: sqliteStoreFactory } = await import('better-sqlite3-session-store');
      const client = new Database(path.join(tmp('es-sqlite'), 'sessions.db'));
      const SqliteStore = sqliteStoreFactory(expressSession);
      counting = false;
      countBetterSqlite(client);
      const store = new SqliteStore({ client, expired: { clear: true, intervalMs: 3_600_000 } });
      counting = true;
      cleanups.push(() => client.close());
      return store;
    }
    case 'file': {
      // session-file-store with its defaults (atomic writes through write-file-atomic), in a temp dir.
      const { default: fileStoreFactory } = await import('session-file-store');
      const FileStore = fileStoreFactory(expressSession);
      const store = new FileStore({ path: tmp('es-file'), logFn: () => {}, reapInterval: -1 });
      return store;
    }
    default:
      throw new Error(`no express-session store ${kind}`);
  }
}

// ---- koa-session stores -----------------------------------------------------------
async function koaSessionStore(kind) {
  if (kind === 'cookie') return undefined;
  const { default: redisStore } = await import('koa-redis');
  const store = redisStore({ host: REDIS.host, port: REDIS.port });
  countRedis(store.client);
  cleanups.push(() => store.quit());
  return countStore(store, ES_METHODS);
}

// ---- apps --------------------------------------------------------------------------
async function buildHandler() {
  const { framework, lib, store } = scenario;
  if (framework === 'express') {
    const { default: express } = await import('express');
    const app = express();
    app.set('etag', false);
    app.set('x-powered-by', false);
    if (lib === 'bare') {
      let n = 0;
      app.get('/read', (req, res) => res.json({ n }));
      app.get('/write', (req, res) => res.json({ n: ++n }));
    } else if (lib === 'sess') {
      const { session } = await import('@sess/express');
      app.use(session(await sessManager(store)));
      app.get('/read', (req, res) => res.json({ n: req.session.get('n', 0) }));
      app.get('/write', (req, res) => res.json({ n: req.session.increment('n') }));
    } else {
      const { default: expressSession } = await import('express-session');
      const esStore = countStore(await expressSessionStore(store, expressSession), ES_METHODS);
      app.use(
        expressSession({
          secret: SECRET,
          store: esStore,
          resave: false,
          saveUninitialized: false,
          cookie: { secure: false, httpOnly: true, sameSite: 'lax', maxAge: 1800 * 1000 },
        }),
      );
      app.get('/read', (req, res) => res.json({ n: req.session.n ?? 0 }));
      app.get('/write', (req, res) => {
        req.session.n = (req.session.n ?? 0) + 1;
        res.json({ n: req.session.n });
      });
    }
    return app;
  }
  if (framework === 'koa') {
    const { default: Koa } = await import('koa');
    const app = new Koa();
    if (lib === 'bare') {
      let n = 0;
      app.use((ctx) => {
        if (ctx.path === '/read') ctx.body = { n };
        else if (ctx.path === '/write') ctx.body = { n: ++n };
      });
    } else if (lib === 'sess') {
      const { session } = await import('@sess/koa');
      app.use(session(await sessManager(store)));
      app.use((ctx) => {
        if (ctx.path === '/read') ctx.body = { n: ctx.session.get('n', 0) };
        else if (ctx.path === '/write') ctx.body = { n: ctx.session.increment('n') };
      });
    } else {
      const { default: koaSession } = await import('koa-session');
      app.keys = [SECRET];
      const externalStore = await koaSessionStore(store);
      app.use(
        koaSession(
          { key: 'koa.sess', maxAge: 1800 * 1000, httpOnly: true, signed: true, secure: false, sameSite: 'lax', ...(externalStore ? { store: externalStore, prefix: `${PREFIX}koa:` } : {}) },
          app,
        ),
      );
      app.use((ctx) => {
        if (ctx.path === '/read') ctx.body = { n: ctx.session.n ?? 0 };
        else if (ctx.path === '/write') ctx.body = { n: (ctx.session.n = (ctx.session.n ?? 0) + 1) };
      });
    }
    return app.callback();
  }
  if (framework === 'fastify') {
    const { default: Fastify } = await import('fastify');
    let handler;
    // Fastify's own request handler on the bench's http server (the serverFactory pattern).
    const app = Fastify({ logger: false, serverFactory: (h) => ((handler = h), http.createServer(h)) });
    if (lib === 'bare') {
      let n = 0;
      app.get('/read', async () => ({ n }));
      app.get('/write', async () => ({ n: ++n }));
    } else if (lib === 'sess') {
      const { session } = await import('@sess/fastify');
      await app.register(session, { manager: await sessManager(store) });
      app.get('/read', async (request) => ({ n: request.session.get('n', 0) }));
      app.get('/write', async (request) => ({ n: request.session.increment('n') }));
    } else {
      // @fastify/session with its default in-memory store, set up as its README shows.
      const { default: fastifyCookie } = await import('@fastify/cookie');
      const { default: fastifySession } = await import('@fastify/session');
      await app.register(fastifyCookie);
      const peerStore = countStore(new fastifySession.MemoryStore(), ES_METHODS);
      await app.register(fastifySession, { secret: SECRET, store: peerStore, saveUninitialized: false, cookie: { secure: false, httpOnly: true, sameSite: 'lax', maxAge: 1800 * 1000 } });
      app.get('/read', async (request) => ({ n: request.session.get('n') ?? 0 }));
      app.get('/write', async (request) => {
        const n = (request.session.get('n') ?? 0) + 1;
        request.session.set('n', n);
        return { n };
      });
    }
    await app.ready();
    return handler;
  }
  if (framework === 'hono') {
    const { Hono } = await import('hono');
    const { getRequestListener } = await import('@hono/node-server');
    const app = new Hono();
    if (lib === 'bare') {
      let n = 0;
      app.get('/read', (c) => c.json({ n }));
      app.get('/write', (c) => c.json({ n: ++n }));
    } else if (lib === 'sess') {
      const { session } = await import('@sess/hono');
      app.use(session(await sessManager(store)));
      app.get('/read', (c) => c.json({ n: c.var.session.get('n', 0) }));
      app.get('/write', (c) => c.json({ n: c.var.session.increment('n') }));
    } else {
      // hono-sessions on its MemoryStore (the same store as ours), with the encryption key its README recommends.
      const { sessionMiddleware, MemoryStore } = await import('hono-sessions');
      const peerStore = countStore(new MemoryStore(), ['getSessionById', 'createSession', 'persistSessionData', 'deleteSession'], {
        getSessionById: 'get',
        createSession: 'set',
        persistSessionData: 'set',
        deleteSession: 'destroy',
      });
      app.use(sessionMiddleware({ store: peerStore, encryptionKey: SECRET, expireAfterSeconds: 1800, autoExtendExpiration: true, cookieOptions: { sameSite: 'Lax', path: '/', httpOnly: true } }));
      app.get('/read', (c) => c.json({ n: c.get('session').get('n') ?? 0 }));
      app.get('/write', (c) => {
        const s = c.get('session');
        const n = (s.get('n') ?? 0) + 1;
        s.set('n', n);
        return c.json({ n });
      });
    }
    return getRequestListener(app.fetch);
  }
  if (framework === 'next') {
    // The Next app (src/next-app) picks its session library from the route: /sess/* or /iron/*.
    process.env.NEXT_TELEMETRY_DISABLED = '1';
    process.env.SESS_BENCH_SECRET = SECRET;
    globalThis.__sessBenchCount = (store) => countStore(store, SESS_METHODS);
    const { default: next } = await import('next');
    const dir = new URL('./next-app', import.meta.url).pathname;
    const app = next({ dev: false, dir, quiet: true });
    await app.prepare();
    const handle = app.getRequestHandler();
    const base = lib === 'sess' ? '/sess' : lib === 'bare' ? '/bare' : '/iron';
    return (req, res) => {
      req.url = base + req.url; // same /read and /write paths for the load generator
      return handle(req, res);
    };
  }
  throw new Error(`unknown framework ${framework}`);
}

// ---- server and IPC ---------------------------------------------------------------
const handler = await buildHandler();
let served = 0;
let window = null;
const server = http.createServer(handler);
server.keepAliveTimeout = 65_000;
server.on('request', (req, res) => res.on('finish', () => served++));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

process.on('message', async (msg) => {
  if (msg.type === 'start') {
    counts.store = {};
    counts.backend = {};
    served = 0;
    window = { cpu: process.cpuUsage(), at: process.hrtime.bigint() };
    process.send({ type: 'started' });
  } else if (msg.type === 'stop') {
    const cpu = process.cpuUsage(window.cpu);
    process.send({
      type: 'stats',
      served,
      cpuUser: cpu.user,
      cpuSystem: cpu.system,
      elapsedNs: Number(process.hrtime.bigint() - window.at),
      counts: structuredClone(counts),
      rss: process.memoryUsage().rss,
    });
  } else if (msg.type === 'close') {
    server.closeAllConnections?.();
    server.close();
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        console.error(`[bench:${id}] cleanup: ${err.message}`);
      }
    }
    for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
    process.send({ type: 'closed' }, () => process.exit(0));
  }
});
process.send({ type: 'ready', port: server.address().port });
