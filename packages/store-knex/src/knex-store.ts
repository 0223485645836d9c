import { createHash } from 'node:crypto';
import { debuglog } from 'node:util';
import type { Knex } from 'knex';
import { applyChange, ConfigError, isRotatedMark, isSessionRecord, ROTATED_MARK, ROTATED_MARK_TTL, StoreError } from '@sess/core';
import type { SessionChange, SessionRecord, Store, StoredSession, UpdateResult } from '@sess/core';
import { Sweeper, type VersionedRecord } from '@sess/core/store';
import { dialectOf, type Dialect } from './dialect.js';
import { decodeFromJsonb, encodeForJsonb } from './pg-json.js';
import { createTableIfMissing, widenUserId } from './schema.js';

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
   * Create the table (and its indexes) on first use when it is missing, and widen
   * an older table's `user_id` to varchar(512). Safe with several processes
   * starting at once. Leave it off to own the schema in your migrations with
   * `createSessionTable`.
   * @default false
   */
  createTable?: boolean;
  /**
   * On a SQLite file database, switch the file to WAL journal mode on first use
   * (`PRAGMA journal_mode = WAL`, which the file keeps): readers no longer block
   * the writer and each commit costs one sync instead of several. `false` leaves
   * the journal mode as it is. Ignored for in-memory databases and other clients.
   * @default true
   */
  sqliteWal?: boolean;
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

/** A prepared better-sqlite3 statement (not imported: the driver is optional). */
interface BetterSqliteStatement {
  get(...params: unknown[]): unknown;
  run(...params: unknown[]): { changes: number };
}

/** The part of a better-sqlite3 `Database` the store uses. */
interface BetterSqliteDatabase {
  prepare(sql: string): BetterSqliteStatement;
  transaction<T>(fn: () => T): { immediate(): T };
}

interface Row {
  id: string;
  data: string | Buffer | object;
}

type LiveRow = Row & { expires_at: number | string };

/** The columns the store writes. */
interface RowValues {
  id: string;
  data: string;
  expires_at: number;
  user_id: string | null;
}

/**
 * What `data` holds under an id that `rotate` moved away: core's rotated mark,
 * valid JSON (PostgreSQL's jsonb keeps it). The row has no `user_id`, so the
 * user index never sees it, and a short `expires_at`, so prune removes it.
 */
const MARK_TEXT = JSON.stringify(ROTATED_MARK);

/** A live row holding a rotated mark (as `#read` tells it from a record). */
const MOVED = 'moved';
type Current = VersionedRecord | typeof MOVED | undefined;

/**
 * What `update` and `rotate` return when they wrote nothing because no record is
 * there (a fresh object: callers may keep it); `moved` when a rotated mark is.
 */
const nothingThere = (current: Current): UpdateResult => ({
  existed: false,
  written: false,
  consumedTokens: [],
  consumedFlash: {},
  ...(current === MOVED ? { moved: true } : {}),
});

/**
 * The version of a row whose `data` the driver handed over already parsed (a
 * native JSON column on MySQL 8): it starts with a character no JSON text starts
 * with, so it never takes the text compare-and-set path, yet two reads of an
 * unchanged row still give equal versions.
 */
const PARSED = '\u0000parsed:';

/** The version of a row: the raw text of its `data`, exactly as read. */
function versionOf(data: Row['data']): string {
  if (typeof data === 'string') return data;
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return PARSED + JSON.stringify(data);
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

/** Two rows with one id: the insert lost to another writer (or the id is taken). */
function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: string; errno?: number };
  return e?.errno === 1062 || e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/**
 * The database is up and refused the value: too long for its column, a failed
 * constraint, an invalid value, a packet or row over the server's limit. A retry
 * cannot cure it and neither can the operator of the database: the application
 * (or the schema) must change. Insert races (duplicate keys) are not refusals.
 */
export function isRefusal(err: unknown): boolean {
  if (isRetryable(err)) return false;
  const e = err as { code?: unknown; errno?: unknown; sqlState?: unknown };
  // PostgreSQL SQLSTATE classes 22 (data exception), 23 (integrity constraint), 54 (program limit exceeded).
  if (typeof e?.code === 'string' && /^(22|23|54)[0-9A-Z]{3}$/.test(e.code)) return true;
  // MySQL/MariaDB: the same SQLSTATE classes, and the refusals reported under other states.
  if (typeof e?.sqlState === 'string' && /^(22|23)/.test(e.sqlState)) return true;
  if (typeof e?.errno === 'number' && [1153, 1118, 3140, 3819, 4025].includes(e.errno)) return true; // packet too large, row too large, invalid JSON, check constraint (MySQL, MariaDB)
  // SQLite: constraints (NOT NULL, CHECK), a value over SQLITE_MAX_LENGTH, a datatype mismatch.
  return typeof e?.code === 'string' && (e.code.startsWith('SQLITE_CONSTRAINT') || e.code === 'SQLITE_TOOBIG' || e.code === 'SQLITE_MISMATCH');
}

/**
 * The driver's message without the statement knex puts in front of it
 * (`<sql with its values> - <message>`): the values are session ids, tokens and
 * data, which must not reach logs through our error messages. (The `cause` keeps
 * knex's message; knex's `compileSqlOnError: false` keeps the values out of it.)
 */
function describeError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (!/^\s*(select|insert|update|delete|begin|commit|rollback|create|alter|drop|with|pragma)\b/i.test(message)) return message;
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

/** Marks a binding's place when knex builds a statement's SQL once (see `#compiled`). */
const SLOT = '\u0000sess-binding:';

/** Prepared statements per better-sqlite3 connection, by SQL text (a handful per table). */
const statements = new WeakMap<BetterSqliteDatabase, Map<string, BetterSqliteStatement>>();

/**
 * Sessions in a SQL table through Knex: PostgreSQL, MySQL/MariaDB or SQLite.
 * `set` is a native upsert; `update` one conditional UPDATE when the caller's
 * version is still stored, else a row-locking transaction; `rotate` one
 * transaction; expiry a filter in every read plus a batched `prune()`.
 *
 * A record's version is the raw text of its `data` column as read (on
 * PostgreSQL `data::text`, jsonb's canonical text).
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
  readonly #wal: boolean;
  readonly #batchSize: number;
  readonly #maxRetries: number;
  /** The driver is better-sqlite3 (synchronous): writes run as its own immediate transactions. */
  readonly #betterSqlite: boolean;
  /** Something to do once before the first query (create the table, switch to WAL). */
  #setupPending: boolean;
  #setup: Promise<void> | undefined;
  /** A read handed `data` over parsed (a native JSON column): versions of written rows are marked the same way. */
  #parsedData = false;
  readonly #sweeper: Sweeper | undefined;
  /** SQL of the per-request statements on better-sqlite3, built once, and where each binding comes from. */
  readonly #templates = new Map<string, { sql: string; from: Array<string | { value: unknown }> }>();
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
    let fileDatabase = false;
    if (this.dialect === 'sqlite') {
      const config = this.knex.client.config as { connection?: { filename?: string }; pool?: { max?: number } };
      const filename = config.connection?.filename ?? '';
      const max = config.pool?.max ?? 1;
      const inMemory = filename === '' || filename === ':memory:' || filename.includes('mode=memory');
      // Each connection to ':memory:' opens its own empty database.
      if (inMemory && filename !== '' && max !== 1) {
        throw new ConfigError('[sess] An in-memory SQLite database needs a knex pool of exactly one connection: pass pool: { min: 1, max: 1 }.');
      }
      fileDatabase = !inMemory;
    }
    this.#wal = fileDatabase && (options.sqliteWal ?? true);
    this.#setupPending = this.#createTable || this.#wal;
    const every = options.pruneInterval ?? 600;
    if (typeof every !== 'number' || !(every >= 0)) {
      throw new ConfigError(`[sess] KnexStore pruneInterval must be a number of seconds >= 0, got ${String(every)}.`);
    }
    // An unref'd timer, one sweep at a time; close() stops it and waits for the sweep in progress.
    this.#sweeper =
      every > 0
        ? new Sweeper({
            interval: every,
            sweep: () => this.#sweep(),
            onError: (err) => debug('sweep of %s failed: %s', this.tableName, err instanceof Error ? err.message : String(err)),
          })
        : undefined;
  }

  async get(id: string): Promise<VersionedRecord | undefined> {
    return this.#run('read a session', async () => {
      const row = this.#betterSqlite
        ? await this.#withBetterSqlite((db) => {
            // The read every request makes: one prepared statement, its SQL built by knex once.
            const { statement, bindings } = this.#compiled(db, 'get', (slot) => this.#select(this.knex).where('id', slot('id')).andWhere('expires_at', '>', slot('now')).limit(1), {
              id,
              now: Date.now(),
            });
            return statement.get(...bindings) as Row | undefined;
          })
        : this.dialect === 'postgres'
          ? // The same, through knex.raw: knex's events, pool and errors, without building the query per call.
            ((await this.#raw('get', (slot) => this.#select(this.knex).where('id', slot('id')).andWhere('expires_at', '>', slot('now')).limit(1), { id, now: Date.now() }))[0] as Row | undefined)
          : ((await this.#select(this.knex).where('id', id).andWhere('expires_at', '>', Date.now()).first()) as Row | undefined);
      const current = row ? this.#read(row) : undefined;
      return current === MOVED ? undefined : current; // a rotated mark reads as absent
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

  /**
   * With `expected` (a `{ record, version }` from `get` or an earlier write), first
   * one conditional `UPDATE ... WHERE id = ? AND data = <version>` that writes
   * `applyChange(expected.record, change)` while the row still holds that very
   * text; when it matches no row (changed, expired, gone), the locking path.
   */
  async update(id: string, change: SessionChange, ttlSeconds: number, expected?: VersionedRecord): Promise<UpdateResult> {
    return this.#run('update a session', async () => {
      if (expected !== undefined && typeof expected.version === 'string' && !expected.version.startsWith(PARSED)) {
        const fast = await this.#retry(() =>
          this.#betterSqlite ? this.#compareAndSetBetterSqlite(id, change, ttlSeconds, expected) : this.#compareAndSet(id, change, ttlSeconds, expected),
        );
        if (fast) return fast;
      }
      return this.#retry(() =>
        this.#betterSqlite ? this.#updateBetterSqlite(id, change, ttlSeconds, expected) : this.#updateLocked(id, change, ttlSeconds, expected),
      );
    });
  }

  /**
   * One transaction: the old row read under a lock (`SELECT ... FOR UPDATE`; on
   * better-sqlite3 the transaction holds the database's write lock from its
   * start), the change applied, the new row inserted, and the old row turned
   * into a rotated mark (`UPDATE`: the mark's text, no `user_id`, expiring in
   * min(60 s, ttl)). An overlapping update of the old id waits for the lock: it
   * either committed before (and is in the moved record) or finds the mark and
   * answers `moved: true`.
   */
  async rotate(oldId: string, newId: string, change: SessionChange, ttlSeconds: number, expected?: VersionedRecord): Promise<UpdateResult> {
    return this.#run('regenerate a session', () =>
      this.#retry(async () => {
        try {
          return await (this.#betterSqlite
            ? this.#rotateBetterSqlite(oldId, newId, change, ttlSeconds, expected)
            : this.#rotateLocked(oldId, newId, change, ttlSeconds, expected));
        } catch (err) {
          // Not a race a retry could win: a live row already has the new id.
          if (isDuplicateKey(err)) {
            throw new StoreError(`[sess] KnexStore could not regenerate a session in table "${this.tableName}": the new session id is already taken. Nothing was changed.`, {
              cause: err,
            });
          }
          throw err;
        }
      }),
    );
  }

  /** The fast path of `update` through knex: one statement instead of BEGIN, SELECT ... FOR UPDATE, UPDATE, COMMIT. */
  async #compareAndSet(id: string, change: SessionChange, ttlSeconds: number, expected: VersionedRecord): Promise<UpdateResult | undefined> {
    const { record, ...outcome } = applyChange(expected.record, change);
    if (!record) return undefined;
    const values = this.#row(id, record, ttlSeconds);
    if (this.dialect === 'postgres') {
      // jsonb stores its own canonical text: the new version is what it now holds.
      const rows = (await this.#raw(
        'compare-and-set',
        (slot) =>
          this.#whereUnchanged(this.knex(this.tableName).where('id', slot('id')).andWhere('expires_at', '>', slot('now')), slot('version')).update(
            { id: slot('id'), data: slot('data'), expires_at: slot('expires_at'), user_id: slot('user_id') },
            this.#returningData(),
          ),
        { id, now: Date.now(), version: expected.version, data: values.data, expires_at: values.expires_at, user_id: values.user_id },
      )) as Array<{ data: string }>;
      if (rows.length !== 1) return undefined;
      return { existed: outcome.existed, written: true, consumedTokens: outcome.consumedTokens, consumedFlash: outcome.consumedFlash, record, version: rows[0]!.data };
    }
    const query = this.#whereUnchanged(this.knex(this.tableName).where('id', id).andWhere('expires_at', '>', Date.now()), expected.version as string);
    const swapped = Number(await query.update(values));
    return swapped === 1 ? { ...outcome, written: true, record, version: this.#writtenVersion(values) } : undefined;
  }

  /** `data` still equal to the version text, compared exactly (no case folding, no jsonb normalisation). */
  #whereUnchanged<Q extends Knex.QueryBuilder>(query: Q, version: string): Q {
    if (this.dialect === 'postgres') return query.andWhereRaw('??::text = ?', ['data', version]) as Q; // works on jsonb, json and text columns
    if (this.dialect === 'mysql') return query.andWhereRaw('?? = cast(? as binary)', ['data', version]) as Q; // whatever the column's collation
    return query.andWhereRaw('?? = ? collate binary', ['data', version]) as Q;
  }

  #updateLocked(id: string, change: SessionChange, ttlSeconds: number, expected: VersionedRecord | undefined): Promise<UpdateResult> {
    return this.knex.transaction(async (trx) => {
      // FOR UPDATE holds the row until commit, so overlapping updates queue up
      // instead of overwriting each other. SQLite has no row locks: its writers
      // are serialised by the database lock (and knex's one-connection pool).
      const row = await this.#selectForUpdate(trx, id);
      const current = this.#live(row, expected);
      const { record, ...outcome } = applyChange(current === MOVED ? undefined : current?.record, change);
      if (!record) return nothingThere(current);
      const values = this.#row(id, record, ttlSeconds);
      // The row is locked when it exists (a rotated mark or an expired row is
      // written over, as an absent one is created); when absent, a plain insert, so a
      // concurrent creator makes this one fail with a duplicate key and retry
      // (now finding the row) instead of silently overwriting it.
      const version = row ? await this.#writeRow(trx(this.tableName).where('id', id), 'update', values) : await this.#writeRow(trx(this.tableName), 'insert', values);
      return { ...outcome, written: true, record, version };
    });
  }

  #rotateLocked(oldId: string, newId: string, change: SessionChange, ttlSeconds: number, expected: VersionedRecord | undefined): Promise<UpdateResult> {
    return this.knex.transaction(async (trx) => {
      const row = await this.#selectForUpdate(trx, oldId);
      const current = this.#live(row, expected);
      if (current === undefined || current === MOVED) return nothingThere(current);
      const { record, ...outcome } = applyChange(current.record, { ...change, ifExists: true });
      const values = this.#row(newId, record!, ttlSeconds);
      const version = await this.#writeRow(trx(this.tableName), 'insert', values);
      await trx(this.tableName).where('id', oldId).update(this.#markRow(ttlSeconds));
      return { ...outcome, written: true, record: record!, version };
    });
  }

  async #selectForUpdate(trx: Knex.Transaction, id: string): Promise<LiveRow | undefined> {
    let query = this.#select(trx).select('expires_at').where('id', id);
    if (this.dialect !== 'sqlite') query = query.forUpdate();
    return (await query.first()) as LiveRow | undefined;
  }

  /** Runs the insert or update and returns the new version (PostgreSQL: the text jsonb made of it). */
  async #writeRow(query: Knex.QueryBuilder, kind: 'insert' | 'update', values: RowValues): Promise<string> {
    if (this.dialect === 'postgres') {
      const rows = (await (kind === 'insert' ? query.insert(values, this.#returningData()) : query.update(values, this.#returningData()))) as Array<{ data: string }>;
      return rows[0]!.data;
    }
    await (kind === 'insert' ? query.insert(values) : query.update(values));
    return this.#writtenVersion(values);
  }

  /**
   * better-sqlite3 is synchronous, so a read-apply-write runs as one
   * `BEGIN IMMEDIATE` transaction in a single tick: other processes on the same
   * file wait for the write lock (busy timeout) instead of failing at COMMIT,
   * and nothing in this process can interleave. (A knex transaction would BEGIN
   * deferred, and knex leaves the connection inside the transaction when COMMIT
   * fails with SQLITE_BUSY.)
   */
  async #withBetterSqlite<T>(work: (db: BetterSqliteDatabase) => T): Promise<T> {
    const db = (await this.knex.client.acquireConnection()) as BetterSqliteDatabase;
    try {
      return work(db);
    } finally {
      await this.knex.client.releaseConnection(db);
    }
  }

  /** Runs a knex query natively on a better-sqlite3 connection, with its statement prepared once. */
  #native(db: BetterSqliteDatabase, query: Knex.QueryBuilder): { statement: BetterSqliteStatement; bindings: unknown[] } {
    const { sql, bindings } = query.toSQL().toNative();
    let cache = statements.get(db);
    if (!cache) statements.set(db, (cache = new Map()));
    let statement = cache.get(sql);
    if (!statement) {
      if (cache.size >= 64) cache.clear(); // many tables through one connection: stay small
      statement = db.prepare(sql);
      cache.set(sql, statement);
    }
    return { statement, bindings: bindings as unknown[] };
  }

  /**
   * A statement of the per-request paths on a better-sqlite3 connection: its SQL
   * built by knex once per store (with a marker in each binding's place), then
   * prepared once per connection; each call only fills in the bindings. (Building
   * the query with knex on every call cost more than running it.)
   */
  #compiled(
    db: BetterSqliteDatabase,
    kind: string,
    build: (slot: (name: string) => string) => Knex.QueryBuilder,
    values: Record<string, unknown>,
  ): { statement: BetterSqliteStatement; bindings: unknown[] } {
    const { sql, bindings } = this.#template(kind, true, build, values);
    const compiled = { sql };
    let cache = statements.get(db);
    if (!cache) statements.set(db, (cache = new Map()));
    let statement = cache.get(compiled.sql);
    if (!statement) {
      if (cache.size >= 64) cache.clear(); // many tables through one connection: stay small
      statement = db.prepare(compiled.sql);
      cache.set(compiled.sql, statement);
    }
    return { statement, bindings };
  }

  /**
   * A per-request statement's SQL, built by knex once per store with a marker in
   * each binding's place, and the bindings of this call in their places. `native`:
   * the driver's placeholders (better-sqlite3); else knex's `?`, for `knex.raw`.
   */
  #template(kind: string, native: boolean, build: (slot: (name: string) => string) => Knex.QueryBuilder, values: Record<string, unknown>): { sql: string; bindings: unknown[] } {
    const key = native ? `native:${kind}` : kind;
    let compiled = this.#templates.get(key);
    if (compiled === undefined) {
      const query = build((name) => SLOT + name).toSQL();
      const { sql, bindings } = native ? query.toNative() : query;
      compiled = { sql, from: (bindings as unknown[]).map((b) => (typeof b === 'string' && b.startsWith(SLOT) ? b.slice(SLOT.length) : { value: b })) };
      this.#templates.set(key, compiled);
    }
    return { sql: compiled.sql, bindings: compiled.from.map((from) => (typeof from === 'string' ? values[from] : from.value)) };
  }

  /** Runs a per-request statement on PostgreSQL through `knex.raw` with its SQL built once (`#template`); the rows. */
  async #raw(kind: string, build: (slot: (name: string) => string) => Knex.QueryBuilder, values: Record<string, unknown>): Promise<unknown[]> {
    const { sql, bindings } = this.#template(kind, false, build, values);
    const result = (await this.knex.raw(sql, bindings as Knex.RawBinding[])) as { rows: unknown[] };
    return result.rows;
  }

  #compareAndSetBetterSqlite(id: string, change: SessionChange, ttlSeconds: number, expected: VersionedRecord): Promise<UpdateResult | undefined> {
    const outcome = applyChange(expected.record, change);
    const record = outcome.record;
    if (!record) return Promise.resolve(undefined);
    const values = this.#row(id, record, ttlSeconds);
    return this.#withBetterSqlite((db) => {
      // One autocommit statement: SQLite takes the write lock for it.
      const { statement, bindings } = this.#compiled(
        db,
        'compare-and-set',
        (slot) =>
          this.#whereUnchanged(this.knex(this.tableName).where('id', slot('id')).andWhere('expires_at', '>', slot('now')), slot('version')).update({
            id: slot('id'),
            data: slot('data'),
            expires_at: slot('expires_at'),
            user_id: slot('user_id'),
          }),
        { id, now: Date.now(), version: expected.version, data: values.data, expires_at: values.expires_at, user_id: values.user_id },
      );
      if (statement.run(...bindings).changes !== 1) return undefined;
      // Built field by field: a rest and a spread take V8's slow generic path.
      return { existed: outcome.existed, written: true, consumedTokens: outcome.consumedTokens, consumedFlash: outcome.consumedFlash, record, version: this.#writtenVersion(values) };
    });
  }


  #readBetterSqlite(db: BetterSqliteDatabase, id: string): LiveRow | undefined {
    const { statement, bindings } = this.#native(db, this.knex(this.tableName).select('id', 'data', 'expires_at').where('id', id));
    return statement.get(...bindings) as LiveRow | undefined;
  }

  #writeBetterSqlite(db: BetterSqliteDatabase, query: Knex.QueryBuilder): void {
    const { statement, bindings } = this.#native(db, query);
    statement.run(...bindings);
  }

  #updateBetterSqlite(id: string, change: SessionChange, ttlSeconds: number, expected: VersionedRecord | undefined): Promise<UpdateResult> {
    return this.#withBetterSqlite((db) =>
      db
        .transaction((): UpdateResult => {
          const row = this.#readBetterSqlite(db, id);
          const current = this.#live(row, expected);
          const { record, ...outcome } = applyChange(current === MOVED ? undefined : current?.record, change);
          if (!record) return nothingThere(current);
          const values = this.#row(id, record, ttlSeconds);
          this.#writeBetterSqlite(db, row ? this.knex(this.tableName).where('id', id).update(values) : this.knex(this.tableName).insert(values));
          return { ...outcome, written: true, record, version: this.#writtenVersion(values) };
        })
        .immediate(),
    );
  }

  #rotateBetterSqlite(oldId: string, newId: string, change: SessionChange, ttlSeconds: number, expected: VersionedRecord | undefined): Promise<UpdateResult> {
    return this.#withBetterSqlite((db) =>
      db
        .transaction((): UpdateResult => {
          const row = this.#readBetterSqlite(db, oldId);
          const current = this.#live(row, expected);
          if (current === undefined || current === MOVED) return nothingThere(current);
          const { record, ...outcome } = applyChange(current.record, { ...change, ifExists: true });
          const values = this.#row(newId, record!, ttlSeconds);
          this.#writeBetterSqlite(db, this.knex(this.tableName).insert(values));
          this.#writeBetterSqlite(db, this.knex(this.tableName).where('id', oldId).update(this.#markRow(ttlSeconds)));
          return { ...outcome, written: true, record: record!, version: this.#writtenVersion(values) };
        })
        .immediate(),
    );
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
        if (record && record !== MOVED) out.push({ id: row.id, record }); // marks have no user_id: never here
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
    await this.#sweeper?.close();
  }

  /** Runs `action` after the one-time setup, turning any database failure into a StoreError. */
  async #run<T>(action: string, work: () => Promise<T>): Promise<T> {
    try {
      if (this.#setupPending) await this.#ensureSetup();
      return await work();
    } catch (err) {
      if (err instanceof StoreError || err instanceof ConfigError) throw err;
      const detail = describeError(err);
      const timeout = (err as { name?: string })?.name === 'KnexTimeoutError';
      const refused = !timeout && isRefusal(err);
      debug('%s on %s failed: %s', action, this.tableName, detail);
      if (refused) {
        throw new StoreError(`[sess] KnexStore could not ${action} in table "${this.tableName}": the database refused the value (${detail}). ${this.#refusalFix(err, detail)}`, {
          cause: err,
          code: 'E_STORE_REFUSED',
        });
      }
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

  #refusalFix(err: unknown, detail: string): string {
    if ((err as { errno?: number }).errno === 1153) return 'The record is larger than the server accepts: raise max_allowed_packet, or keep less in the session.';
    if ((err as { code?: string }).code === '22001' || (err as { errno?: number }).errno === 1406 || /too long/i.test(detail)) {
      return `A value is longer than its column: user ids may have up to 512 characters, so user_id must be varchar(512) (createSessionTable(knex, "${this.tableName}") widens an older table, as createTable: true does at start-up), and session ids must fit the id column (varchar(64)).`;
    }
    return `Check the table against the schema of createSessionTable(knex, "${this.tableName}").`;
  }

  #ensureSetup(): Promise<void> {
    this.#setup ??= this.#doSetup().then(
      () => {
        this.#setupPending = false;
      },
      (err: unknown) => {
        this.#setup = undefined; // try again on the next call rather than failing forever
        throw err;
      },
    );
    return this.#setup;
  }

  async #doSetup(): Promise<void> {
    if (this.#wal) {
      try {
        const rows = (await this.knex.raw('pragma journal_mode = wal')) as Array<{ journal_mode?: string }>;
        debug('journal mode of %s: %s', this.tableName, rows[0]?.journal_mode);
      } catch (err) {
        // Never a reason to fail a request: the store works in any journal mode. Tried once per store.
        debug('could not switch the SQLite database to WAL: %s', describeError(err));
      }
    }
    if (this.#createTable && !(await createTableIfMissing(this.knex, this.tableName))) {
      try {
        if (await widenUserId(this.knex, this.tableName)) debug('widened %s.user_id to varchar(512)', this.tableName);
      } catch (err) {
        // The table works for the user ids it can hold; a longer one is refused with a clear error.
        process.emitWarning(err instanceof Error ? err.message : String(err), { code: 'SESS_KNEX_USER_ID', detail: 'KnexStore createTable' });
      }
    }
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

  /** jsonb comes back as text, so every dialect parses (and tolerates corruption) the same way, and versions are comparable text. */
  #dataText(db: Knex | Knex.Transaction) {
    return this.dialect === 'postgres' ? db.raw('??::text as ??', ['data', 'data']) : 'data';
  }

  /** `RETURNING data::text as data` (knex's types do not admit a raw column there). */
  #returningData(): string[] {
    return [this.#dataText(this.knex)] as unknown as string[];
  }

  #select(db: Knex | Knex.Transaction) {
    return db(this.tableName).select('id', this.#dataText(db));
  }

  #row(id: string, record: SessionRecord, ttlSeconds: number): RowValues {
    const json = JSON.stringify(record);
    return {
      id,
      data: this.dialect === 'postgres' ? encodeForJsonb(json) : json,
      expires_at: expiryOf(ttlSeconds),
      user_id: typeof record.user === 'string' ? record.user : null,
    };
  }

  /** The columns that turn a rotated-away row into a rotated mark: no user, a short life. */
  #markRow(ttlSeconds: number): Omit<RowValues, 'id'> {
    return { data: MARK_TEXT, expires_at: expiryOf(Math.min(ROTATED_MARK_TTL, ttlSeconds)), user_id: null };
  }

  /**
   * The version the next read of a row just written gives: the text written
   * (PostgreSQL asks the row instead: RETURNING data::text), marked when this
   * table's `data` comes back parsed.
   */
  #writtenVersion(values: RowValues): string {
    return this.#parsedData ? PARSED + values.data : values.data;
  }

  /** A row read under the lock: what it holds when it has not expired, else undefined. */
  #live(row: LiveRow | undefined, expected: VersionedRecord | undefined): Current {
    return row && Number(row.expires_at) > Date.now() ? this.#read(row, expected) : undefined;
  }

  /**
   * A live row as a versioned record, or `MOVED` for a rotated mark; the
   * caller's record when its version is still the stored one (no second parse:
   * a version is only ever a record's text, never a mark's).
   */
  #read(row: Row, expected?: VersionedRecord): Current {
    const version = versionOf(row.data);
    if (version.startsWith(PARSED)) this.#parsedData = true;
    if (expected !== undefined && expected.version === version) return { record: expected.record, version };
    const record = this.#parse(row);
    return record === MOVED ? MOVED : record && { record, version };
  }

  /** A stored row as a record, or `MOVED` for a rotated mark; unreadable data (bad JSON, wrong shape) reads as absent. */
  #parse(row: Row): SessionRecord | typeof MOVED | undefined {
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
      // Any object with the own key "sess:rotated" is a mark (another writer may add a nonce).
      if (isRotatedMark(value)) return MOVED;
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

  /** The timer's sweep: one instance at a time where the database has advisory locks. */
  async #sweep(): Promise<number> {
    if (this.#closed) return 0;
    if (this.#setupPending) await this.#ensureSetup();
    if (this.dialect === 'sqlite') return this.#prune(true);
    const lockName = sweepLockName(this.tableName);
    // The lock lives on the transaction's connection; the batches run on other
    // connections of the pool and commit one by one.
    return this.knex.transaction(async (trx) => {
      if (this.dialect === 'postgres') {
        const result = await trx.raw('select pg_try_advisory_xact_lock(hashtext(?)) as ok', [lockName]);
        if (!result.rows[0]?.ok) {
          debug('another instance is sweeping %s', this.tableName);
          return 0;
        }
        return this.#prune(true);
      }
      const [rows] = await trx.raw('select get_lock(?, 0) as ok', [lockName]);
      if (Number(rows[0]?.ok) !== 1) {
        debug('another instance is sweeping %s', this.tableName);
        return 0;
      }
      try {
        return await this.#prune(true);
      } finally {
        await trx.raw('select release_lock(?)', [lockName]);
      }
    });
  }
}
