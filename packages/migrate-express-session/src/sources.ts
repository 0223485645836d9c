/**
 * Readers of the stores express-session apps use, each through the store's own
 * format (never through express-session). Each `claim` takes the record out
 * of the old store in one atomic step, so of overlapping requests carrying the
 * same old cookie exactly one gets the data (delete-first-wins).
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A record taken out of the old store. */
export interface ClaimedSession {
  /** The express-session object as stored: `cookie` and the app's data. */
  session: Record<string, unknown>;
  /**
   * When the old store would have forgotten the record (epoch ms): the Redis
   * key's TTL, the `expire` column, the file's last access plus its TTL.
   * Undefined when the store keeps no expiry (the `cookie.expires` is used then).
   */
  expiresAt?: number;
  /** What the store held, for `restore`. */
  raw?: unknown;
}

/**
 * An old store, as the migrator needs it: one atomic take, and a best-effort
 * put-back when writing the sess session fails. Implement it for a store that
 * is not covered here.
 */
export interface OldSessionSource {
  /** A short name for logs and errors: `connect-redis`, `connect-pg-simple`. */
  readonly kind: string;
  /**
   * Removes the record of `id` and returns it, in one atomic step: of
   * overlapping calls for one id at most one gets it. Undefined when there is
   * none (never stored, expired, or claimed by another request).
   */
  claim(id: string): Promise<ClaimedSession | undefined>;
  /** Puts a claimed record back unless one exists again (best effort). */
  restore?(id: string, claimed: ClaimedSession): Promise<void>;
}

// ---- connect-redis ----------------------------------------------------------

/** The ioredis calls the Redis reader makes (a `Redis` or a `Cluster`). */
export interface RedisClientLike {
  eval(...args: any[]): Promise<unknown>;
  set(...args: any[]): Promise<unknown>;
}

export interface ConnectRedisSourceOptions {
  /** An ioredis client (`new Redis(...)` or `new Cluster(...)`) on the Redis connect-redis used. */
  client: RedisClientLike;
  /** connect-redis's `prefix`. @default 'sess:' */
  prefix?: string;
  /** connect-redis's `serializer.parse`, when the app set a serializer. @default JSON.parse */
  parse?: (text: string) => unknown;
}

/** GET, PTTL and DEL as one atomic step: the caller that gets the value is the only one. */
const CLAIM_LUA = `local v = redis.call('GET', KEYS[1])
if not v then return false end
local t = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
return {v, t}`;

/**
 * Reads connect-redis records: the key `<prefix><id>` holds the session as
 * JSON, expiring with the key's TTL. Taken with one Lua script (GET, PTTL,
 * DEL), so two overlapping requests never both get it.
 *
 * @example
 * connectRedisSource({ client: new Redis(process.env.REDIS_URL!), prefix: 'sess:' })
 */
export function connectRedisSource(options: ConnectRedisSourceOptions): OldSessionSource {
  const { client } = options;
  if (!client || typeof client.eval !== 'function' || typeof client.set !== 'function') {
    throw new TypeError('[sess] connectRedisSource needs an ioredis client: connectRedisSource({ client: new Redis(url) }).');
  }
  const prefix = options.prefix ?? 'sess:';
  const parse = options.parse ?? JSON.parse;
  return {
    kind: 'connect-redis',
    async claim(id) {
      const reply = (await client.eval(CLAIM_LUA, 1, prefix + id)) as [string | Buffer, number] | null;
      if (!Array.isArray(reply)) return undefined;
      const text = String(reply[0]);
      const ttl = Number(reply[1]);
      const session = parseObject(() => parse(text));
      if (session === undefined) return undefined;
      return { session, expiresAt: ttl > 0 ? Date.now() + ttl : undefined, raw: { text, ttl } };
    },
    async restore(id, claimed) {
      const { text, ttl } = claimed.raw as { text: string; ttl: number };
      if (ttl > 0) await client.set(prefix + id, text, 'PX', ttl, 'NX');
      else await client.set(prefix + id, text, 'NX');
    },
  };
}

// ---- connect-pg-simple ------------------------------------------------------

/** The one `pg` call the PostgreSQL reader makes: a `Pool` or a connected `Client`. */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
}

export interface ConnectPgSimpleSourceOptions {
  /** A `pg` Pool (or Client) on the database connect-pg-simple used. */
  pool: PgQueryable;
  /** connect-pg-simple's `tableName`. @default 'session' */
  tableName?: string;
  /** connect-pg-simple's `schemaName`, when the app set one. */
  schemaName?: string;
}

/**
 * Reads connect-pg-simple rows: `sid`, `sess` (json) and `expire`
 * (timestamp). Taken with one `DELETE … RETURNING`, so of two overlapping
 * requests one gets the row and the other none.
 *
 * @example
 * connectPgSimpleSource({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) })
 */
export function connectPgSimpleSource(options: ConnectPgSimpleSourceOptions): OldSessionSource {
  const { pool } = options;
  if (!pool || typeof pool.query !== 'function') throw new TypeError('[sess] connectPgSimpleSource needs a pg Pool: connectPgSimpleSource({ pool: new pg.Pool(...) }).');
  const table = (options.schemaName ? `${quoteIdent(options.schemaName)}.` : '') + quoteIdent(options.tableName ?? 'session');
  // The time left is computed in the database (its clock, its time zone for a
  // timestamp without time zone), so neither a skewed clock nor a time zone
  // difference between the app and the database moves the expiry.
  const claimSql = `DELETE FROM ${table} WHERE sid = $1 RETURNING sess, (EXTRACT(EPOCH FROM (expire::timestamptz - now())) * 1000)::float8 AS ms_left`;
  const restoreSql = `INSERT INTO ${table} (sid, sess, expire) VALUES ($1, $2, now() + ($3::float8 * interval '1 millisecond')) ON CONFLICT (sid) DO NOTHING`;
  return {
    kind: 'connect-pg-simple',
    async claim(id) {
      const { rows } = await pool.query(claimSql, [id]);
      const row = rows[0] as { sess: unknown; ms_left: number | string } | undefined;
      if (!row) return undefined;
      const msLeft = Number(row.ms_left);
      if (!(msLeft > 0)) return undefined; // expired: connect-pg-simple would not have returned it either
      const session = parseObject(() => (typeof row.sess === 'string' ? JSON.parse(row.sess) : row.sess));
      if (session === undefined) return undefined;
      return { session, expiresAt: Date.now() + msLeft, raw: { sess: row.sess, msLeft } };
    },
    async restore(id, claimed) {
      const { sess, msLeft } = claimed.raw as { sess: unknown; msLeft: number };
      await pool.query(restoreSql, [id, typeof sess === 'string' ? sess : JSON.stringify(sess), msLeft]);
    },
  };
}

// ---- connect-session-knex ---------------------------------------------------

/** The Knex calls the connect-session-knex reader makes (a `Knex` instance). */
export interface KnexLike {
  transaction(...args: any[]): Promise<any>;
  client: { config?: { client?: unknown }; dialect?: string };
}

export interface ConnectSessionKnexSourceOptions {
  /** The Knex instance connect-session-knex used. */
  knex: KnexLike;
  /** connect-session-knex's `tableName`. @default 'sessions' */
  tableName?: string;
  /** connect-session-knex's `sidFieldName`. @default 'sid' */
  sidFieldName?: string;
}

/**
 * Reads connect-session-knex rows: the id column (`sid`), `sess` (JSON or
 * text) and `expired`. Taken in a transaction that locks the row, reads it and
 * deletes it; only the request whose DELETE removed the row uses what it read.
 *
 * @example
 * connectSessionKnexSource({ knex, tableName: 'sessions' })
 */
export function connectSessionKnexSource(options: ConnectSessionKnexSourceOptions): OldSessionSource {
  const { knex } = options;
  if (!knex || typeof knex.transaction !== 'function') throw new TypeError('[sess] connectSessionKnexSource needs a Knex instance: connectSessionKnexSource({ knex }).');
  const table = options.tableName ?? 'sessions';
  const sid = options.sidFieldName ?? 'sid';
  const dialect = String(knex.client.dialect ?? knex.client.config?.client ?? '');
  const sqlite = /sqlite/.test(dialect);
  // connect-session-knex writes `expired` on MySQL as a UTC 'YYYY-MM-DD HH:MM:SS'
  // in a DATETIME, which a driver reads back in its own time zone: the time
  // left is computed in SQL instead, against UTC.
  const mysql = /mysql|maria/.test(dialect);
  return {
    kind: 'connect-session-knex',
    async claim(id) {
      const row = await knex.transaction(async (trx: any) => {
        const columns: unknown[] = ['sess', 'expired'];
        if (mysql) columns.push(trx.raw('TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), ??) / 1000 AS ms_left', ['expired']));
        const query = trx(table).select(...columns).where(sid, '=', id);
        const [found] = await (sqlite ? query : query.forUpdate());
        if (!found) return undefined;
        const deleted = Number(await trx(table).where(sid, '=', id).del());
        return deleted === 1 ? found : undefined;
      });
      if (!row) return undefined;
      const expiresAt = row.ms_left != null ? Date.now() + Number(row.ms_left) : toEpoch(row.expired);
      if (expiresAt !== undefined && expiresAt <= Date.now()) return undefined;
      const session = parseObject(() => (typeof row.sess === 'string' ? JSON.parse(row.sess) : row.sess));
      if (session === undefined) return undefined;
      return { session, expiresAt, raw: row };
    },
    async restore(id, claimed) {
      const row = claimed.raw as { sess: unknown; expired: unknown };
      await knex.transaction(async (trx: any) => {
        const [exists] = await trx(table).select(sid).where(sid, '=', id);
        if (!exists) await trx(table).insert({ [sid]: id, sess: typeof row.sess === 'string' ? row.sess : JSON.stringify(row.sess), expired: row.expired });
      });
    },
  };
}

// ---- session-file-store -----------------------------------------------------

export interface SessionFileStoreSourceOptions {
  /** session-file-store's `path`. @default './sessions' */
  path?: string;
  /** session-file-store's `fileExtension`. @default '.json' */
  fileExtension?: string;
  /** session-file-store's `ttl` in seconds, for sessions without `cookie.originalMaxAge`. @default 3600 */
  ttl?: number;
  /**
   * Turns a file's text into the session object. The default is JSON.parse; an
   * app that used session-file-store's `secret` (encrypted files) passes the
   * decryption here.
   */
  decode?: (text: string, id: string) => unknown;
}

/**
 * Reads session-file-store files: `<path>/<id>.json`, the session as JSON with
 * `__lastAccess` (epoch ms) beside the data, expiring `cookie.originalMaxAge`
 * (or `ttl`) after the last access. Taken by renaming the file to a name of
 * its own first (a rename is atomic: of two overlapping requests one wins),
 * then reading and deleting it.
 *
 * @example
 * sessionFileStoreSource({ path: './sessions' })
 */
export function sessionFileStoreSource(options: SessionFileStoreSourceOptions = {}): OldSessionSource {
  const dir = options.path ?? './sessions';
  const extension = options.fileExtension ?? '.json';
  const ttlMs = (options.ttl ?? 3600) * 1000;
  const decode = options.decode ?? ((text: string) => JSON.parse(text));
  return {
    kind: 'session-file-store',
    async claim(id) {
      // A signed id never has these, but a file name is no place to find out.
      if (id.includes('/') || id.includes('\\') || id.startsWith('.')) return undefined;
      const file = join(dir, id + extension);
      const taken = `${file}.migrating-${randomBytes(6).toString('hex')}`;
      try {
        await rename(file, taken);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      let text: string;
      try {
        text = await readFile(taken, 'utf8');
      } catch (err) {
        await rename(taken, file).catch(() => {});
        throw err;
      }
      await unlink(taken).catch(() => {});
      const session = parseObject(() => decode(text, id));
      if (session === undefined) return undefined;
      const lastAccess = Number(session.__lastAccess);
      delete session.__lastAccess;
      const cookie = session.cookie as { originalMaxAge?: unknown } | undefined;
      const lifetime = typeof cookie?.originalMaxAge === 'number' && cookie.originalMaxAge > 0 ? cookie.originalMaxAge : ttlMs;
      const expiresAt = Number.isFinite(lastAccess) ? lastAccess + lifetime : undefined;
      if (expiresAt !== undefined && expiresAt <= Date.now()) return undefined;
      return { session, expiresAt, raw: text };
    },
    async restore(id, claimed) {
      const file = join(dir, id + extension);
      const back = `${file}.restoring-${randomBytes(6).toString('hex')}`;
      await writeFile(back, claimed.raw as string, 'utf8');
      // link() fails when the name exists again: never overwrite a newer file.
      await link(back, file).catch(() => {});
      await unlink(back).catch(() => {});
    },
  };
}

// ---- helpers ----------------------------------------------------------------

function parseObject(read: () => unknown): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = read();
  } catch {
    return undefined; // unreadable: as the old store itself, take it for absent
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A timestamp column's value as epoch ms: a Date, epoch ms, or text (no zone means UTC, as connect-session-knex writes it). */
function toEpoch(value: unknown): number | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value !== '') {
    const zoned = /(Z|[+-]\d\d(:?\d\d)?)$/i.test(value) ? value : `${value.replace(' ', 'T')}Z`;
    const ms = Date.parse(zoned);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}
