// The HTTP scenarios. `peer` names the row an @sess row is compared with (same
// framework and store); every row is also compared with its framework's bare row
// and with bare Express (the ceiling).
export const SCENARIOS = [
  { id: 'express-bare', framework: 'express', lib: 'bare', store: '-', label: 'Express (no session)' },
  { id: 'sess-express-memory', framework: 'express', lib: 'sess', store: 'memory', label: '@sess/express + MemoryStore', peer: 'es-memory' },
  { id: 'es-memory', framework: 'express', lib: 'peer', store: 'memory', label: 'express-session + MemoryStore' },
  { id: 'sess-express-redis', framework: 'express', lib: 'sess', store: 'redis', label: '@sess/express + RedisStore', peer: 'es-redis' },
  { id: 'es-redis', framework: 'express', lib: 'peer', store: 'redis', label: 'express-session + connect-redis' },
  { id: 'sess-express-file', framework: 'express', lib: 'sess', store: 'file', label: '@sess/express + FileStore', peer: 'es-file' },
  { id: 'es-file', framework: 'express', lib: 'peer', store: 'file', label: 'express-session + session-file-store' },
  { id: 'sess-express-sqlite', framework: 'express', lib: 'sess', store: 'sqlite', label: '@sess/express + KnexStore (SQLite)', peer: 'es-sqlite' },
  { id: 'es-sqlite', framework: 'express', lib: 'peer', store: 'sqlite', label: 'express-session + better-sqlite3-session-store' },
  { id: 'sess-express-pg', framework: 'express', lib: 'sess', store: 'pg', label: '@sess/express + KnexStore (PostgreSQL)', peer: 'es-pgsimple' },
  { id: 'es-pgsimple', framework: 'express', lib: 'peer', store: 'pg-simple', label: 'express-session + connect-pg-simple (PostgreSQL)' },
  { id: 'es-pg', framework: 'express', lib: 'peer', store: 'pg', label: 'express-session + connect-session-knex (PostgreSQL)' },
  { id: 'koa-bare', framework: 'koa', lib: 'bare', store: '-', label: 'Koa (no session)' },
  { id: 'sess-koa-memory', framework: 'koa', lib: 'sess', store: 'memory', label: '@sess/koa + MemoryStore', peer: 'koa-session-cookie' },
  { id: 'koa-session-cookie', framework: 'koa', lib: 'peer', store: 'cookie', label: 'koa-session (cookie)' },
  { id: 'sess-koa-redis', framework: 'koa', lib: 'sess', store: 'redis', label: '@sess/koa + RedisStore', peer: 'koa-session-redis' },
  { id: 'koa-session-redis', framework: 'koa', lib: 'peer', store: 'redis', label: 'koa-session + koa-redis' },
  { id: 'fastify-bare', framework: 'fastify', lib: 'bare', store: '-', label: 'Fastify (no session)' },
  { id: 'sess-fastify-memory', framework: 'fastify', lib: 'sess', store: 'memory', label: '@sess/fastify + MemoryStore', peer: 'fastify-session' },
  { id: 'fastify-session', framework: 'fastify', lib: 'peer', store: 'memory', label: '@fastify/session + MemoryStore' },
  { id: 'hono-bare', framework: 'hono', lib: 'bare', store: '-', label: 'Hono on @hono/node-server (no session)' },
  { id: 'sess-hono-memory', framework: 'hono', lib: 'sess', store: 'memory', label: '@sess/hono + MemoryStore', peer: 'hono-sessions' },
  { id: 'hono-sessions', framework: 'hono', lib: 'peer', store: 'memory', label: 'hono-sessions + MemoryStore' },
  { id: 'next-bare', framework: 'next', lib: 'bare', store: '-', label: 'Next.js route handler (no session)' },
  { id: 'next-sess', framework: 'next', lib: 'sess', store: 'memory', label: '@sess/next + MemoryStore (route handler)', peer: 'next-iron' },
  { id: 'next-iron', framework: 'next', lib: 'peer', store: 'cookie', label: 'iron-session (route handler)' },
];

/** Order of one round: bare Express between the groups, to show drift. */
export const ROUND = [
  'express-bare',
  'sess-express-memory', 'es-memory', 'sess-express-redis', 'es-redis',
  'express-bare',
  'sess-express-file', 'es-file', 'sess-express-sqlite', 'es-sqlite', 'sess-express-pg', 'es-pgsimple', 'es-pg',
  'express-bare',
  'koa-bare', 'sess-koa-memory', 'koa-session-cookie', 'sess-koa-redis', 'koa-session-redis',
  'express-bare',
  'fastify-bare', 'sess-fastify-memory', 'fastify-session',
  'hono-bare', 'sess-hono-memory', 'hono-sessions',
  'express-bare',
  'next-bare', 'next-sess', 'next-iron',
  'express-bare',
];
