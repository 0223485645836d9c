// Loopback services of the machine (override by env) and the shared secret.
export const PG = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
  password: process.env.PGPASSWORD ?? 'postgres',
  database: process.env.PGDATABASE ?? 'test',
};
export const REDIS = { host: process.env.REDIS_HOST ?? '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379) };
/** Every Redis key and SQL table this benchmark makes starts with this (cleaned up at the end). */
export const PREFIX = 'sessbench:';
export const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

const quick = process.env.BENCH_QUICK === '1';
const num = (name, fallback) => (process.env[name] === undefined ? fallback : Number(process.env[name]));
export const KNOBS = {
  quick,
  /** Seconds of each measured window. */
  duration: num('BENCH_DURATION', quick ? 1 : 3),
  /** Seconds of unmeasured load before each window. */
  warmup: num('BENCH_WARMUP', quick ? 0.5 : 1),
  /** Rounds over all scenarios; the table quotes the median. */
  repeats: num('BENCH_REPEATS', quick ? 1 : 3),
  /** Concurrent keep-alive connections of the load generator. */
  connections: num('BENCH_CONNECTIONS', 10),
  /** Live sessions the client rotates through (one cookie per request, round robin). */
  sessions: num('BENCH_SESSIONS', 20),
  /** Sessions for the memory and scale benchmark. */
  scaleSessions: num('BENCH_SCALE_SESSIONS', quick ? 2000 : 100_000),
  /** Files for the FileStore prune benchmark. */
  scaleFiles: num('BENCH_SCALE_FILES', quick ? 1000 : 20_000),
  /** Routes to measure (comma-separated). */
  routes: (process.env.BENCH_ROUTES ?? '/read,/write').split(','),
  /** Comma-separated scenario ids (or prefixes) to run; all when unset. */
  only: process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',') : undefined,
};
