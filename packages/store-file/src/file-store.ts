import { mkdir, readdir, readFile, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { debuglog } from 'node:util';
import { applyChange, ConfigError, isSessionRecord, StoreError } from '@sess/core';
import type { SessionChange, SessionRecord, Store, StoredSession, UpdateResult } from '@sess/core';
import { TEMP_SUFFIX, writeAtomic } from './atomic-write.js';
import { acquireLock, breakIfStale } from './file-lock.js';
import { hashId, Layout } from './layout.js';

const debug = debuglog('sess:store-file');

/** How long prune() waits for the sweep lock before leaving the sweep to the process that holds it. */
const PRUNE_LOCK_WAIT = 250;

export interface FileStoreOptions {
  /**
   * The folder that holds the session files; created (with `dirMode`) when missing.
   * Relative paths resolve against the working directory at construction.
   * @example new FileStore({ dir: './.sessions' })
   */
  dir: string;
  /**
   * Seconds between background sweeps (expired, corrupt and orphaned files), on an
   * `unref`'d timer; 0 turns them off (call `prune()` yourself). Processes sharing
   * `dir` take turns: one sweeper at a time, and a run is skipped when another
   * process swept less than half an interval ago.
   * @default 60
   */
  sweepInterval?: number;
  /**
   * At most this many files are examined by one background sweep run; the next run
   * continues with the next shard. `prune()` always goes through everything.
   * @default 1000
   */
  sweepBatch?: number;
  /**
   * Milliseconds to wait for a session's lock before failing with a `StoreError`
   * (code `E_STORE_TIMEOUT`).
   * @default 5000
   */
  lockTimeout?: number;
  /**
   * Milliseconds after which a lock file is treated as abandoned and broken. A lock
   * of a process of this host that no longer runs is broken at once.
   * @default 10000
   */
  lockStale?: number;
  /**
   * Milliseconds after which a temporary file counts as orphaned (its writer died)
   * and is removed by a sweep; younger ones may belong to a write in flight.
   * @default 60000
   */
  tempMaxAge?: number;
  /**
   * Permission bits of session, index and lock files: sessions are secrets.
   * @default 0o600
   */
  fileMode?: number;
  /**
   * Permission bits of the folders the store creates.
   * @default 0o700
   */
  dirMode?: number;
  /**
   * Flush each file to disk before it takes its name, so a power loss cannot leave
   * an empty file behind. Costs one disk flush per write.
   * @default false
   */
  fsync?: boolean;
  /** The clock for expiry, in epoch milliseconds. @default Date.now */
  clock?: () => number;
}

/** What a session file holds: the record, its id and its expiry. */
interface SessionDoc {
  v: 1;
  id: string;
  /** Epoch milliseconds after which the record reads as absent. */
  expires: number;
  record: SessionRecord;
}

/** What a user index file holds. */
interface UserDoc {
  v: 1;
  user: string;
  ids: string[];
}

type Read = { state: 'absent' } | { state: 'corrupt' } | { state: 'ok'; doc: SessionDoc };

const SESSION_FILE = /^[0-9a-f]{64}\.json$/;
const SWEEP_CONCURRENCY = 32;

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

function parseSession(text: string): SessionDoc | undefined {
  try {
    const doc = JSON.parse(text) as Partial<SessionDoc> | null;
    if (doc && doc.v === 1 && typeof doc.id === 'string' && typeof doc.expires === 'number' && isSessionRecord(doc.record)) {
      return doc as SessionDoc;
    }
  } catch {
    // not JSON (garbage, or truncated by something other than this store): absent
  }
  return undefined;
}

function positive(name: string, value: number | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new ConfigError(`[sess] FileStore option \`${name}\` must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${String(value)}.`);
  }
  return value;
}

/**
 * Sessions as files in a folder: no server, no native module, only `node:fs`.
 * Safe for several processes on one host sharing the folder (cluster, PM2).
 *
 * - One file per session, named by the sha256 of the id.
 * - Every write is atomic (temporary file + rename); readers take no lock.
 * - `update`, `set`, `touch` and `destroy` hold a per-session lock file (O_EXCL),
 *   so concurrent changes from any process never lose each other.
 * - A user index file per user backs `listByUser`/`destroyByUser`.
 *
 * @example
 * const manager = new SessionManager({ secret, store: new FileStore({ dir: './.sessions' }) });
 */
export class FileStore implements Store {
  readonly dir: string;
  readonly #layout: Layout;
  readonly #options: Required<Omit<FileStoreOptions, 'dir' | 'clock'>>;
  readonly #clock: () => number;
  /** In-process queues per lock name: waiters here never poll the file system. */
  readonly #queues = new Map<string, Promise<void>>();
  #ready: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The background sweep in flight, if any: `close()` waits for it. */
  #sweepRun: Promise<void> | undefined;
  #cursor = Math.floor(Math.random() * 256);
  #closed = false;

  constructor(options: FileStoreOptions) {
    if (!options || typeof options.dir !== 'string' || options.dir === '') {
      throw new ConfigError("[sess] FileStore needs the `dir` option, the folder for session files: new FileStore({ dir: './.sessions' }).");
    }
    this.dir = resolve(options.dir);
    this.#layout = new Layout(this.dir);
    this.#clock = options.clock ?? (() => Date.now()); // late-bound: fake timers replace Date.now
    this.#options = {
      sweepInterval: positive('sweepInterval', options.sweepInterval, 60, true),
      sweepBatch: positive('sweepBatch', options.sweepBatch, 1000),
      lockTimeout: positive('lockTimeout', options.lockTimeout, 5000, true),
      lockStale: positive('lockStale', options.lockStale, 10_000),
      tempMaxAge: positive('tempMaxAge', options.tempMaxAge, 60_000, true),
      fileMode: options.fileMode ?? 0o600,
      dirMode: options.dirMode ?? 0o700,
      fsync: options.fsync ?? false,
    };
    if (this.#options.sweepInterval > 0) {
      this.#timer = setInterval(() => {
        this.#sweepRun ??= this.#timedSweep().finally(() => (this.#sweepRun = undefined));
      }, this.#options.sweepInterval * 1000);
      this.#timer.unref(); // a sweep must never keep the process alive
    }
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    try {
      await this.#prepare();
      const read = await this.#read(hashId(id));
      return read.state === 'ok' && read.doc.id === id && read.doc.expires > this.#clock() ? read.doc.record : undefined;
    } catch (err) {
      throw this.#fail('read a session', err);
    }
  }

  async set(id: string, record: SessionRecord, ttlSeconds: number): Promise<void> {
    const hash = hashId(id);
    try {
      await this.#prepare();
      await this.#withLock(this.#layout.sessionLock(hash), async () => {
        const before = await this.#read(hash);
        await this.#commit(id, hash, before, record, ttlSeconds);
      });
    } catch (err) {
      throw this.#fail('write a session', err);
    }
  }

  async destroy(id: string): Promise<void> {
    const hash = hashId(id);
    try {
      await this.#prepare();
      await this.#withLock(this.#layout.sessionLock(hash), async () => {
        const before = await this.#read(hash);
        await this.#remove(id, hash, before);
      });
    } catch (err) {
      throw this.#fail('delete a session', err);
    }
  }

  async touch(id: string, ttlSeconds: number): Promise<void> {
    const hash = hashId(id);
    try {
      await this.#prepare();
      await this.#withLock(this.#layout.sessionLock(hash), async () => {
        const before = await this.#read(hash);
        if (!this.#live(before, id)) return;
        await this.#writeSession(hash, { ...before.doc, expires: this.#expiry(ttlSeconds) });
      });
    } catch (err) {
      throw this.#fail('extend a session', err);
    }
  }

  async update(id: string, change: SessionChange, ttlSeconds: number): Promise<UpdateResult> {
    const hash = hashId(id);
    try {
      await this.#prepare();
      return await this.#withLock(this.#layout.sessionLock(hash), async () => {
        const before = await this.#read(hash);
        const { record, ...result } = applyChange(this.#live(before, id) ? before.doc.record : undefined, change);
        if (record) await this.#commit(id, hash, before, record, ttlSeconds);
        return { ...result, written: record !== undefined };
      });
    } catch (err) {
      throw this.#fail('update a session', err);
    }
  }

  async listByUser(userId: string): Promise<StoredSession[]> {
    try {
      await this.#prepare();
      const ids = await this.#readIndex(hashId(userId), userId);
      const found = await Promise.all(
        ids.map(async (id): Promise<StoredSession | undefined> => {
          const record = await this.get(id);
          return record && record.user === userId ? { id, record } : undefined;
        }),
      );
      return found.filter((s): s is StoredSession => s !== undefined);
    } catch (err) {
      throw this.#fail("list a user's sessions", err);
    }
  }

  async destroyByUser(userId: string, exceptId?: string): Promise<number> {
    try {
      await this.#prepare();
      let count = 0;
      for (const id of await this.#readIndex(hashId(userId), userId)) {
        if (id === exceptId) continue;
        const hash = hashId(id);
        await this.#withLock(this.#layout.sessionLock(hash), async () => {
          const before = await this.#read(hash);
          if (before.state === 'ok' && before.doc.id === id && before.doc.record.user !== userId) {
            // the session moved to another user: only the stale index entry goes
            await this.#unindex(userId, id);
            return;
          }
          if (this.#live(before, id)) count++;
          await this.#remove(id, hash, before); // unindexes a readable record of this user
          if (before.state !== 'ok') await this.#unindex(userId, id);
        });
      }
      return count;
    } catch (err) {
      throw this.#fail("delete a user's sessions", err);
    }
  }

  /**
   * Removes expired and corrupt session files, orphaned temporaries (older than
   * `tempMaxAge`), abandoned locks and dangling user index entries, across all
   * shards, and returns how many session and temporary files it removed. When
   * another process is sweeping right now, returns 0 at once: that sweep removes
   * the files (waiting for it could outlast lockTimeout on a large folder).
   */
  async prune(): Promise<number> {
    try {
      await this.#prepare();
      // A short wait is enough to break an abandoned sweep lock; a live one is left to its owner.
      return await this.#withLock(this.#layout.sweepLock, () => this.#sweep(Infinity), Math.min(this.#options.lockTimeout, PRUNE_LOCK_WAIT));
    } catch (err) {
      if (err instanceof StoreError && err.code === 'E_STORE_TIMEOUT') {
        debug('prune: another process is sweeping; leaving the work to it');
        return 0;
      }
      throw this.#fail('prune sessions', err);
    }
  }

  /**
   * Stops the background sweep and waits for a run in flight to finish, so no
   * file is touched by the timer afterwards. Calls made after still work.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sweepRun;
  }

  // ---- sessions ----

  async #read(hash: string): Promise<Read> {
    let text: string;
    try {
      text = await readFile(this.#layout.sessionFile(hash), 'utf8');
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return { state: 'absent' };
      throw err;
    }
    const doc = parseSession(text);
    return doc ? { state: 'ok', doc } : { state: 'corrupt' };
  }

  #live(read: Read, id: string): read is { state: 'ok'; doc: SessionDoc } {
    return read.state === 'ok' && read.doc.id === id && read.doc.expires > this.#clock();
  }

  #expiry(ttlSeconds: number): number {
    return this.#clock() + ttlSeconds * 1000;
  }

  /**
   * Writes the record and keeps the user index in step. Order matters for a crash
   * in between: the new user's index gains the id before the file names the user
   * (a stray index entry is filtered out on read; a missing one would hide the
   * session), and the old user's index loses it only after.
   */
  async #commit(id: string, hash: string, before: Read, record: SessionRecord, ttlSeconds: number): Promise<void> {
    const previous = before.state === 'ok' && before.doc.id === id ? (before.doc.record.user ?? null) : null;
    const user = record.user ?? null;
    if (user !== null && user !== previous) await this.#index(user, id);
    await this.#writeSession(hash, { v: 1, id, expires: this.#expiry(ttlSeconds), record });
    if (previous !== null && previous !== user) await this.#unindex(previous, id);
  }

  async #remove(id: string, hash: string, before: Read): Promise<void> {
    if (before.state === 'absent') return;
    await unlink(this.#layout.sessionFile(hash)).catch((err) => {
      if (errorCode(err) !== 'ENOENT') throw err;
    });
    const user = before.state === 'ok' && before.doc.id === id ? before.doc.record.user : undefined;
    if (user != null) await this.#unindex(user, id);
  }

  async #writeSession(hash: string, doc: SessionDoc): Promise<void> {
    const json = JSON.stringify(doc);
    await this.#inFolder(this.#layout.shard(hash), () =>
      writeAtomic(this.#layout.sessionFile(hash), json, { mode: this.#options.fileMode, fsync: this.#options.fsync }),
    );
  }

  // ---- user index ----

  async #readIndex(userHash: string, user: string): Promise<string[]> {
    let text: string;
    try {
      text = await readFile(this.#layout.userFile(userHash), 'utf8');
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return [];
      throw err;
    }
    try {
      const doc = JSON.parse(text) as Partial<UserDoc> | null;
      if (doc && doc.user === user && Array.isArray(doc.ids)) return doc.ids.filter((x): x is string => typeof x === 'string');
    } catch {
      // a corrupt index reads as empty and is rewritten by the next change
    }
    return [];
  }

  /** Adds `id` to the user's index under the user's lock (always taken after a session lock). */
  #index(user: string, id: string): Promise<void> {
    return this.#editIndex(user, (ids) => (ids.includes(id) ? undefined : [...ids, id]));
  }

  #unindex(user: string, id: string): Promise<void> {
    return this.#editIndex(user, (ids) => (ids.includes(id) ? ids.filter((x) => x !== id) : undefined));
  }

  async #editIndex(user: string, edit: (ids: string[]) => string[] | undefined): Promise<void> {
    const hash = hashId(user);
    await this.#withLock(this.#layout.userLock(hash), async () => {
      const next = edit(await this.#readIndex(hash, user));
      if (next === undefined) return;
      const file = this.#layout.userFile(hash);
      if (next.length === 0) {
        await unlink(file).catch((err) => {
          if (errorCode(err) !== 'ENOENT') throw err;
        });
        return;
      }
      const doc: UserDoc = { v: 1, user, ids: next };
      await this.#inFolder(this.#layout.users, () =>
        writeAtomic(file, JSON.stringify(doc), { mode: this.#options.fileMode, fsync: this.#options.fsync }),
      );
    });
  }

  // ---- locks and folders ----

  /**
   * Runs `fn` holding the lock file `path`. Callers in this process queue in memory
   * first, so only one of them at a time contends for the file with other processes.
   */
  async #withLock<T>(path: string, fn: () => Promise<T>, timeout = this.#options.lockTimeout): Promise<T> {
    const previous = this.#queues.get(path) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const tail = previous.then(() => mine);
    this.#queues.set(path, tail);
    try {
      await previous;
      const options = { timeout, stale: this.#options.lockStale, mode: this.#options.fileMode };
      const release = await this.#inFolder(this.#layout.locks, () => acquireLock(path, options));
      try {
        return await fn();
      } finally {
        await release();
      }
    } finally {
      done();
      if (this.#queues.get(path) === tail) this.#queues.delete(path);
    }
  }

  /** Runs `fn`; when its folder is missing (first write to a shard, folder deleted), creates it and runs it again. */
  async #inFolder<T>(folder: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
      await mkdir(folder, { recursive: true, mode: this.#options.dirMode });
      return fn();
    }
  }

  #prepare(): Promise<void> {
    this.#ready ??= (async () => {
      const mode = this.#options.dirMode;
      await mkdir(this.dir, { recursive: true, mode });
      await Promise.all([this.#layout.sessions, this.#layout.users, this.#layout.locks].map((d) => mkdir(d, { recursive: true, mode })));
    })().catch((err) => {
      this.#ready = undefined; // try again on the next call: the folder may become usable
      throw err;
    });
    return this.#ready;
  }

  #fail(action: string, err: unknown): StoreError {
    if (err instanceof StoreError) return err;
    const code = errorCode(err);
    const detail = err instanceof Error ? err.message : String(err);
    const hint =
      code === 'ENOSPC' || code === 'EDQUOT'
        ? 'Free disk space (or quota) on that file system.'
        : 'Check that the folder exists or can be created, is a folder, and is writable by this process.';
    return new StoreError(`[sess] FileStore could not ${action} in "${this.dir}": ${detail}. ${hint}`, { cause: err });
  }

  // ---- sweeps ----

  async #timedSweep(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#prepare();
      // Another process swept recently: skip (stamp shared through the file system).
      const last = await stat(this.#layout.stamp).then((s) => s.mtimeMs, () => 0);
      if (Date.now() - last < (this.#options.sweepInterval * 1000) / 2) return;
      // One sweeper at a time: a held sweep lock means someone else is at it.
      const count = await this.#withLock(this.#layout.sweepLock, () => this.#sweep(this.#options.sweepBatch), 0);
      debug('background sweep removed %d files', count);
    } catch (err) {
      debug('background sweep skipped: %s', err instanceof Error ? err.message : String(err));
    }
  }

  /**
   * Sweeps shards from the cursor on until `limit` files were examined; returns
   * files removed. A limited (background) run resumes at the shard where the last
   * one stopped and enters a shard at a random offset, so over several runs every
   * file is reached even in shards larger than the limit.
   */
  async #sweep(limit: number): Promise<number> {
    const names = Layout.shardNames();
    const all = limit === Infinity;
    const start = this.#cursor;
    let examined = 0;
    let removed = 0;
    for (let step = 0; step < names.length && examined < limit; step++) {
      const folder = join(this.#layout.sessions, names[(start + step) % names.length]!);
      let entries = await readdir(folder).catch((err) => {
        if (errorCode(err) === 'ENOENT') return [] as string[];
        throw err;
      });
      if (!all && entries.length > limit - examined) {
        const offset = Math.floor(Math.random() * entries.length);
        entries = [...entries.slice(offset), ...entries.slice(0, offset)].slice(0, limit - examined);
      } else if (!all) {
        this.#cursor = (start + step + 1) % names.length; // shard done: the next run starts after it
      }
      for (let i = 0; i < entries.length; i += SWEEP_CONCURRENCY) {
        const batch = entries.slice(i, i + SWEEP_CONCURRENCY);
        const results = await Promise.all(batch.map((name) => this.#sweepEntry(folder, name)));
        removed += results.reduce((a, b) => a + b, 0);
        examined += batch.length;
        await this.#keepSweepLock();
      }
    }
    removed += await this.#sweepFolder(this.#layout.users, all);
    await this.#sweepLocks();
    // Best effort: a missing stamp only means another process may sweep again soon.
    await writeFile(this.#layout.stamp, '', { mode: this.#options.fileMode }).catch(() => undefined);
    return removed;
  }

  /** Refreshes the sweep lock's mtime between batches, so a long sweep is not taken for abandoned. */
  async #keepSweepLock(): Promise<void> {
    const now = new Date();
    await utimes(this.#layout.sweepLock, now, now).catch(() => undefined);
  }

  async #sweepEntry(folder: string, name: string): Promise<number> {
    if (name.endsWith(TEMP_SUFFIX)) return this.#sweepTemp(join(folder, name));
    if (!SESSION_FILE.test(name)) return 0;
    const hash = name.slice(0, 64);
    const doomed = (read: Read) => read.state === 'corrupt' || (read.state === 'ok' && read.doc.expires <= this.#clock());
    if (!doomed(await this.#read(hash))) return 0;
    try {
      // Re-check under the session's lock: a request may have rewritten it meanwhile.
      return await this.#withLock(
        this.#layout.sessionLock(hash),
        async () => {
          const read = await this.#read(hash);
          if (!doomed(read)) return 0;
          await this.#remove(read.state === 'ok' ? read.doc.id : '', hash, read);
          return 1;
        },
        50,
      );
    } catch (err) {
      if (err instanceof StoreError && err.code === 'E_STORE_TIMEOUT') return 0; // busy: in use, next sweep
      throw err;
    }
  }

  async #sweepTemp(path: string): Promise<number> {
    try {
      const info = await stat(path);
      if (Date.now() - info.mtimeMs < this.#options.tempMaxAge) return 0; // may be a write in flight
      await unlink(path);
      debug('removed orphaned temporary %s', path);
      return 1;
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return 0;
      throw err;
    }
  }

  /** User index folder: orphaned temporaries; on a full prune, index entries whose session is gone. */
  async #sweepFolder(folder: string, compact: boolean): Promise<number> {
    const entries = await readdir(folder).catch(() => [] as string[]);
    let removed = 0;
    for (const name of entries) {
      if (name.endsWith(TEMP_SUFFIX)) removed += await this.#sweepTemp(join(folder, name));
      else if (compact && SESSION_FILE.test(name)) await this.#compactIndex(join(folder, name));
    }
    return removed;
  }

  /**
   * Drops index entries whose session is absent, corrupt or now someone else's
   * (left by a crash between index and session write, or a corrupt file swept).
   * Each entry is checked under its session lock, then edited under the user
   * lock: the same lock order as every write, so no deadlock.
   */
  async #compactIndex(path: string): Promise<void> {
    let doc: Partial<UserDoc> | null;
    try {
      doc = JSON.parse(await readFile(path, 'utf8')) as Partial<UserDoc> | null;
    } catch {
      return;
    }
    if (!doc || typeof doc.user !== 'string' || !Array.isArray(doc.ids)) return;
    const user = doc.user;
    for (const id of doc.ids) {
      if (typeof id !== 'string') continue;
      const hash = hashId(id);
      const stale = (read: Read) => read.state !== 'ok' || read.doc.id !== id || read.doc.record.user !== user;
      if (!stale(await this.#read(hash))) continue;
      await this.#withLock(this.#layout.sessionLock(hash), async () => {
        if (stale(await this.#read(hash))) await this.#unindex(user, id);
      });
    }
  }

  /** Removes what a breaker that died mid-break left behind, once it is old. */
  async #sweepLeftover(path: string): Promise<void> {
    const info = await stat(path).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > this.#options.lockStale) await unlink(path).catch(() => undefined);
  }

  /** Breaks abandoned lock files (holder died) and removes leftovers of broken ones. */
  async #sweepLocks(): Promise<void> {
    const entries = await readdir(this.#layout.locks).catch(() => [] as string[]);
    for (const name of entries) {
      const path = join(this.#layout.locks, name);
      if (name.endsWith('.lock') && name !== 'sweep.lock') await breakIfStale(path, this.#options.lockStale).catch(() => undefined);
      else if (name.endsWith('.broken') || name.endsWith('.break')) await this.#sweepLeftover(path);
    }
  }
}
