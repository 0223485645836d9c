import { createHash } from 'node:crypto';
import { debuglog } from 'node:util';
import type { Knex } from 'knex';
import { applyChange, ConfigError, isSessionRecord, StoreError } from '@sess/core';
import type { SessionChange, SessionRecord, Store, StoredSession, UpdateResult } from '@sess/core';
import { dialectOf, type Dialect } from './dialect.js';
import { decodeFromJsonb, encodeForJsonb } from './pg-json.js';
import { createSessionTable } from './schema.js';

const debug = debuglog('sess:store-knex');

export interface KnexStoreOptions {
  /**
   * Your Knex instance (client `pg`, `mysql2` or `better-sqlite3`). The store
   * borrows it: `close()` never destroys it.
   * @example
   * new KnexStore({ knex: knex({ client: 'pg', connection: process.env.DATABASE_URL }) })
   */
  knex: Knex;
  /**
   * The session table.
   * @default 'sessions'
   */
  tableName?: string;
  /**
   * Create the table (and its indexes) on first use when it is missing. Safe with
   * several processes starting at once. Leave it off to own the schema in your
   * migrations with `createSessionTable`.
   * @default false
   */
  createTable?: boolean;
  /**
   * Seconds between sweeps of expired rows by this process; 0 turns the sweep off
   * (expired rows are never read either way). The timer is unref'd, and on
   * PostgreSQL and MySQL an advisory lock makes one instance sweep at a time.
   * @default 600
   */
  pruneInterval?: number;
  /**
   * Rows deleted per statement by `prune()`: small batches keep locks short.
   * @default 1000
   */
  pruneBatchSize?: number;
  /**
   * How many times a write that hit a deadlock, a lock timeout, a busy SQLite file
   * or a lost insert race is retried before it fails.
   * @default 5
   */
  maxRetries?: number;
}

/** The part of a better-sqlite3 `Database` that `update` uses (not imported: the driver is optional). */
interface BetterSqliteDatabase {
  prepare(sql: string): { get(...params: unknown[]): unknown; run(...params: unknown[]): unknown };
  transaction<T>(fn: () => T): { immediate(): T };
}

interface Row {
  id: string;
  data: string | Buffer | object;
}

/** Database errors that a retry can cure: deadlocks, lock waits, busy files, insert races. */
function isRetryable(err: unknown): boolean {
  const e = err as { code?: string; errno?: number };
  if (e?.errno === 1213 || e?.errno === 1205 || e?.errno === 1062) return true; // MySQL deadlock, lock wait, duplicate key
  return (
    e?.code === '40001' || // PostgreSQL serialization failure
    e?.code === '40P01' || // PostgreSQL deadlock
    e?.code === '23505' || // PostgreSQL unique violation (two inserts of one id)
    e?.code === 'SQLITE_BUSY' ||
    e?.code === 'SQLITE_LOCKED' ||
    e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

/**
 * The driver's message without the statement knex puts in front of it
 * (`<sql with its values> - <message>`): the values are session ids, tokens and
 * data, which must not reach logs through our error messages. (The `cause` keeps
 * knex's message; knex's `compileSqlOnError: false` keeps the values out of it.)
 */
function describeError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (!/^\s*(select|insert|update|delete|begin|commit|rollback|create|alter|drop|with)\b/i.test(message)) return message;
  const cut = message.lastIndexOf(' - ');
  return cut === -1 ? 'the query failed' : message.slice(cut + 3);
}

/** The table does not exist (PostgreSQL 42P01, MySQL 1146, SQLite "no such table"). */
function isMissingTable(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; message?: string };
  return e?.code === '42P01' || e?.errno === 1146 || /no such table/i.test(String(e?.message));
}

/** Epoch ms of expiry; rounded, because a fractional ttl would not fit a bigint column. */
const expiryOf = (ttlSeconds: number) => Date.now() + Math.round(ttlSeconds * 1000);

/**
 * The advisory lock the sweep takes: derived from the table name, and hashed
 * because MySQL refuses lock names over 64 characters.
 */
export const sweepLockName = (tableName: string) => `sess:prune:${createHash('sha256').update(tableName).digest('hex').slice(0, 40)}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sessions in a SQL table through Knex: PostgreSQL, MySQL/MariaDB or SQLite.
 * `set` is a native upsert, `update` a row-locking transaction, expiry a
 * filter in every read plus a batched `prune()`.
 *
 * @example
 * const store = new KnexStore({ knex, createTable: true });
 * const manager = new SessionManager({ secret, store });
 */
export class KnexStore implements Store {
  readonly knex: Knex;
  readonly tableName: string;
  readonly dialect: Dialect;
  readonly #createTable: boolean;
  readonly #batchSize: number;
  readonly #maxRetries: number;
  /** The driver is better-sqlite3 (synchronous): `update` uses its own immediate transaction. */
  readonly #betterSqlite: boolean;
  #ready: Promise<void> | undefined;
  /** The exact text each record `get` returned was read from, for the compare-and-set path of `update`. */
  readonly #raw = new WeakMap<SessionRecord, string>();
  #timer: NodeJS.Timeout | undefined;
  /** The sweep in progress, so `close()` can wait for it before you destroy knex. */
  #sweeping: Promise<void> | undefined;
  #closed = false;

  constructor(options: KnexStoreOptions) {
    if (!options || typeof options.knex !== 'function' || !options.knex.client) {
      throw new ConfigError('[sess] KnexStore needs a Knex instance: new KnexStore({ knex: knex({ client: "pg", connection }) }).');
    }
    this.knex = options.knex;
    this.dialect = dialectOf(options.knex);
    this.tableName = options.tableName ?? 'sessions';
    if (typeof this.tableName !== 'string' || this.tableName.length === 0) {
      throw new ConfigError('[sess] KnexStore tableName must be a non-empty string, e.g. "sessions".');
    }
    this.#createTable = options.createTable ?? false;
    this.#batchSize = options.pruneBatchSize ?? 1000;
    if (!Number.isInteger(this.#batchSize) || this.#batchSize < 1) {
      throw new ConfigError(`[sess] KnexStore pruneBatchSize must be a positive integer, got ${String(options.pruneBatchSize)}.`);
    }
    this.#maxRetries = options.maxRetries ?? 5;
    if (!Number.isInteger(this.#maxRetries) || this.#maxRetries < 0) {
      throw new ConfigError(`[sess] KnexStore maxRetries must be an integer >= 0, got ${String(options.maxRetries)}.`);
    }
    this.#betterSqlite = (this.knex.client as { driverName?: string }).driverName === 'better-sqlite3';
    if (this.dialect === 'sqlite') {
      const config = this.knex.client.config as { connection?: { filename?: string }; pool?: { max?: number } };
      const filename = config.connection?.filename ?? '';
      const max = config.pool?.max ?? 1;
      // Each connection to ':memory:' opens its own empty database.
      if ((filename === ':memory:' || filename.includes('mode=memory')) && max !== 1) {
        throw new ConfigError('[sess] An in-memory SQLite database needs a knex pool of exactly one connection: pass pool: { min: 1, max: 1 }.');
      }
    }
    const every = options.pruneInterval ?? 600;
    if (typeof every !== 'number' || !(every >= 0)) {
      throw new ConfigError(`[sess] KnexStore pruneInterval must be a number of seconds >= 0, got ${String(every)}.`);
    }
    if (every > 0) {
      this.#timer = setInterval(() => {
        this.#sweeping ??= this.#sweep().finally(() => (this.#sweeping = undefined));
      }, every * 1000);
      this.#timer.unref(); // a sweep must never keep the process alive
    }
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    return this.#run('read a session', async () => {
      const row = (await this.#select(this.knex).where('id', id).andWhere('expires_at', '>', Date.now()).first()) as Row | undefined;
      const record = row ? this.#parse(row) : undefined;
      if (record) this.#raw.set(record, String(row!.data));
      return record;
    });
  }

  async set(id: string, record: SessionRecord, ttlSeconds: number): Promise<void> {
    await this.#run('write a session', () =>
      this.#retry(async () => {
        // One native upsert: no read, no duplicate-key error when sets overlap.
        await this.knex(this.tableName).insert(this.#row(id, record, ttlSeconds)).onConflict('id').merge(['data', 'expires_at', 'user_id']);
      }),
    );
  }

  async destroy(id: string): Promise<void> {
    await this.#run('delete a session', () => this.#retry(() => this.knex(this.tableName).where('id', id).del()));
  }

  async touch(id: string, ttlSeconds: number): Promise<void> {
    await this.#run('extend a session', () =>
      this.#retry(() =>
        this.knex(this.tableName)
          .where('id', id)
          .andWhere('expires_at', '>', Date.now()) // never revive an expired row
          .update({ expires_at: expiryOf(ttlSeconds) }),
      ),
    );
  }

  async update(id: string, change: SessionChange, ttlSeconds: number, base?: SessionRecord): Promise<UpdateResult> {
    if (this.#betterSqlite) return this.#run('update a session', () => this.#retry(() => this.#updateBetterSqlite(id, change, ttlSeconds)));
    return this.#run('update a session', async () => {
      const fast = await this.#compareAndSet(id, change, ttlSeconds, base);
      return fast ?? this.#retry(() => this.#updateLocked(id, change, ttlSeconds));
    });
  }

  /**
   * The fast path of `update`: one conditional UPDATE that writes
   * applyChange(base, change) only while the row still holds the very text the
   * caller read, instead of BEGIN, SELECT ... FOR UPDATE, UPDATE, COMMIT (four
   * round trips). Undefined when the row changed, expired or is gone: the caller
   * then takes the locking path, so the outcome is the same.
   */
  async #compareAndSet(id: string, change: SessionChange, ttlSeconds: number, base: SessionRecord | undefined): Promise<UpdateResult | undefined> {
    const expected = base === undefined ? undefined : this.#raw.get(base);
    if (expected === undefined) return undefined;
    const { record, ...outcome } = applyChange(base, change);
    if (!record) return undefined;
    const query = this.knex(this.tableName).where('id', id).andWhere('expires_at', '>', Date.now());
    // PostgreSQL reads data as ::text (jsonb's canonical text); compare the same way.
    if (this.dialect === 'postgres') query.andWhereRaw('??::text = ?', ['data', expected]);
    else query.andWhere('data', expected);
    const swapped = Number(await query.update(this.#row(id, record, ttlSeconds)));
    return swapped === 1 ? { ...outcome, written: true } : undefined;
  }

  #updateLocked(id: string, change: SessionChange, ttlSeconds: number): Promise<UpdateResult> {
    return this.knex.transaction(async (trx) => {
      // FOR UPDATE holds the row until commit, so overlapping updates queue up
      // instead of overwriting each other. SQLite has no row locks: its writers
      // are serialised by the database lock (and knex's one-connection pool).
      let query = this.#select(trx).select('expires_at').where('id', id);
      if (this.dialect !== 'sqlite') query = query.forUpdate();
      const row = (await query.first()) as (Row & { expires_at: number | string }) | undefined;
      const live = row && Number(row.expires_at) > Date.now() ? this.#parse(row) : undefined;
      const { record, ...result } = applyChange(live, change);
      if (record) {
        const values = this.#row(id, record, ttlSeconds);
        // The row is locked when it exists; when absent, a plain insert, so a
        // concurrent creator makes this one fail with a duplicate key and retry
        // (now finding the row) instead of silently overwriting it.
        if (row) await trx(this.tableName).where('id', id).update(values);
        else await trx(this.tableName).insert(values);
      }
      return { ...result, written: record !== undefined };
    });
  }

  /**
   * better-sqlite3 is synchronous, so the whole read-apply-write runs as one
   * `BEGIN IMMEDIATE` transaction in a single tick: other processes on the same
   * file wait for the write lock (busy timeout) instead of failing at COMMIT,
   * and nothing in this process can interleave. (A knex transaction would BEGIN
   * deferred, and knex leaves the connection inside the transaction when COMMIT
   * fails with SQLITE_BUSY.)
   */
  async #updateBetterSqlite(id: string, change: SessionChange, ttlSeconds: number): Promise<UpdateResult> {
    const db = (await this.knex.client.acquireConnection()) as BetterSqliteDatabase;
    try {
      const work = db.transaction((): UpdateResult => {
        const select = this.knex(this.tableName).select('id', 'data', 'expires_at').where('id', id).toSQL().toNative();
        const row = db.prepare(select.sql).get(...select.bindings) as (Row & { expires_at: number }) | undefined;
        const live = row && Number(row.expires_at) > Date.now() ? this.#parse(row) : undefined;
        const { record, ...result } = applyChange(live, change);
        if (record) {
          const values = this.#row(id, record, ttlSeconds);
          const write = (row ? this.knex(this.tableName).where('id', id).update(values) : this.knex(this.tableName).insert(values)).toSQL().toNative();
          db.prepare(write.sql).run(...write.bindings);
        }
        return { ...result, written: record !== undefined };
      });
      return work.immediate();
    } finally {
      await this.knex.client.releaseConnection(db);
    }
  }

  async prune(): Promise<number> {
    return this.#run('delete expired sessions', () => this.#prune());
  }

  async listByUser(userId: string): Promise<StoredSession[]> {
    return this.#run('list the sessions of a user', async () => {
      const rows = (await this.#select(this.knex).where('user_id', userId).andWhere('expires_at', '>', Date.now())) as Row[];
      const out: StoredSession[] = [];
      for (const row of rows) {
        const record = this.#parse(row);
        if (record) out.push({ id: row.id, record });
      }
      return out;
    });
  }

  async destroyByUser(userId: string, exceptId?: string): Promise<number> {
    return this.#run('delete the sessions of a user', () =>
      this.#retry(async () => {
        // One statement; expired rows are left to prune so the count is of live sessions.
        let query = this.knex(this.tableName).where('user_id', userId).andWhere('expires_at', '>', Date.now());
        if (exceptId !== undefined) query = query.andWhereNot('id', exceptId);
        return Number(await query.del());
      }),
    );
  }

  /**
   * Stops the sweep timer and waits for a sweep in progress to end, so the knex
   * instance can be destroyed right after. The instance is yours: this never
   * destroys it.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sweeping;
  }

  /** Runs `action` after the table is ready, turning any database failure into a StoreError. */
  async #run<T>(action: string, work: () => Promise<T>): Promise<T> {
    try {
      if (this.#createTable) await this.#ensureTable();
      return await work();
    } catch (err) {
      if (err instanceof StoreError || err instanceof ConfigError) throw err;
      const detail = describeError(err);
      const timeout = (err as { name?: string })?.name === 'KnexTimeoutError';
      debug('%s on %s failed: %s', action, this.tableName, detail);
      const fix = isMissingTable(err)
        ? `Create the table: pass createTable: true, or call createSessionTable(knex, "${this.tableName}") in a migration.`
        : timeout
          ? 'No connection was free in time: check that the database is reachable, and the size of the knex pool (pool.max) and acquireConnectionTimeout.'
          : 'Check that the database is reachable and the table has the schema of createSessionTable.';
      throw new StoreError(`[sess] KnexStore could not ${action} in table "${this.tableName}": ${detail}. ${fix}`, {
        cause: err,
        code: timeout ? 'E_STORE_TIMEOUT' : 'E_STORE',
      });
    }
  }

  #ensureTable(): Promise<void> {
    this.#ready ??= createSessionTable(this.knex, this.tableName).catch((err: unknown) => {
      this.#ready = undefined; // try again on the next call rather than failing forever
      throw err;
    });
    return this.#ready;
  }

  async #retry<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (err) {
        if (attempt >= this.#maxRetries || !isRetryable(err)) throw err;
        const wait = Math.random() * 5 * 2 ** attempt; // jittered, so the losers do not collide again
        debug('retry %d after %s (%dms)', attempt + 1, describeError(err), Math.round(wait));
        await sleep(wait);
      }
    }
  }

  #select(db: Knex | Knex.Transaction) {
    // jsonb comes back as text so every dialect parses (and tolerates corruption) the same way.
    const data = this.dialect === 'postgres' ? db.raw('??::text as ??', ['data', 'data']) : 'data';
    return db(this.tableName).select('id', data);
  }

  #row(id: string, record: SessionRecord, ttlSeconds: number) {
    const json = JSON.stringify(record);
    return {
      id,
      data: this.dialect === 'postgres' ? encodeForJsonb(json) : json,
      expires_at: expiryOf(ttlSeconds),
      user_id: typeof record.user === 'string' ? record.user : null,
    };
  }

  /** A stored row as a record; unreadable data (bad JSON, wrong shape) reads as absent. */
  #parse(row: Row): SessionRecord | undefined {
    try {
      const raw: unknown = row.data;
      let value: unknown;
      // A hand-made schema may use a native JSON column that the driver already
      // parses (MySQL 8 with mysql2), or a BLOB; ours always reads as text.
      if (raw !== null && typeof raw === 'object' && !Buffer.isBuffer(raw)) value = raw;
      else {
        const text = String(raw);
        value = JSON.parse(this.dialect === 'postgres' ? decodeFromJsonb(text) : text);
      }
      if (isSessionRecord(value)) return value;
    } catch {
      // fall through: corrupt
    }
    debug('unreadable record in %s for id %s: read as absent', this.tableName, row.id);
    return undefined;
  }

  /** `fromSweep`: stop between batches once `close()` was called. */
  async #prune(fromSweep = false): Promise<number> {
    const now = Date.now();
    let total = 0;
    for (;;) {
      if (fromSweep && this.#closed) break;
      // Bounded batches: each delete locks at most `batchSize` rows for a moment,
      // never the whole table for the length of one giant delete.
      const ids = (await this.knex(this.tableName).select('id').where('expires_at', '<=', now).limit(this.#batchSize)).map(
        (r: { id: string }) => r.id,
      );
      if (ids.length === 0) break;
      total += Number(await this.#retry(() => this.knex(this.tableName).whereIn('id', ids).andWhere('expires_at', '<=', now).del()));
      if (ids.length < this.#batchSize) break;
    }
    debug('pruned %d expired sessions from %s', total, this.tableName);
    return total;
  }

  /** The timer's sweep: one instance at a time where the database has advisory locks; never throws. */
  async #sweep(): Promise<void> {
    try {
      if (this.#createTable) await this.#ensureTable();
      if (this.dialect === 'sqlite') {
        await this.#prune(true);
        return;
      }
      const lockName = sweepLockName(this.tableName);
      // The lock lives on the transaction's connection; the batches run on other
      // connections of the pool and commit one by one.
      await this.knex.transaction(async (trx) => {
        if (this.dialect === 'postgres') {
          const result = await trx.raw('select pg_try_advisory_xact_lock(hashtext(?)) as ok', [lockName]);
          if (!result.rows[0]?.ok) return debug('another instance is sweeping %s', this.tableName);
          await this.#prune(true);
        } else {
          const [rows] = await trx.raw('select get_lock(?, 0) as ok', [lockName]);
          if (Number(rows[0]?.ok) !== 1) return debug('another instance is sweeping %s', this.tableName);
          try {
            await this.#prune(true);
          } finally {
            await trx.raw('select release_lock(?)', [lockName]);
          }
        }
      });
    } catch (err) {
      debug('sweep of %s failed: %s', this.tableName, err instanceof Error ? err.message : String(err));
    }
  }
}
