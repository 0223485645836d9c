import { mkdir, readdir, readFile, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { debuglog } from 'node:util';
// StoreError from the main entry: the class apps test with instanceof (the CommonJS
// builds of '@sess/core' and '@sess/core/store' each carry their own copy).
import { ConfigError, StoreError } from '@sess/core';
import { applyChange, isRotatedMark, isSessionRecord, ROTATED_MARK, ROTATED_MARK_TTL, Sweeper } from '@sess/core/store';
import type { SessionChange, SessionRecord, Store, StoredSession, UpdateResult, VersionedRecord } from '@sess/core/store';
import { TEMP_SUFFIX, readWhole, writeAtomic } from './atomic-write.js';
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

/**
 * What a session file holds: the record, its id and its expiry. Written with
 * `expires` first (`{"v":1,"expires":…,"id":…,"record":…}`), so that the expiry
 * of a file whose text is already known can be read without parsing the record.
 */
interface SessionDoc {
  v: 1;
  /** Epoch milliseconds after which the record reads as absent. */
  expires: number;
  id: string;
  record: SessionRecord;
}

/**
 * What the file of an id that `rotate` moved away holds for a short while: the
 * rotated mark in place of the record (`{"v":1,"expires":…,"id":…,"record":{"sess:rotated":true}}`).
 * It reads as absent, is in no user index, and makes an update of the id say `moved`.
 */
interface MarkDoc {
  v: 1;
  expires: number;
  id: string;
  record: typeof ROTATED_MARK;
}

/** What a user index file holds. */
interface UserDoc {
  v: 1;
  user: string;
  ids: string[];
}

/**
 * A session file as read: `text` is the raw file content, which is also the
 * record's version. `mark`: the file holds a rotated mark, not a record.
 */
type Read = { state: 'absent' } | { state: 'corrupt' } | Live | { state: 'mark'; doc: MarkDoc; text: string };
type Live = { state: 'ok'; doc: SessionDoc; text: string };

/** The outcome when there was nothing to change (`ifExists` found no record). */
const nothing = (): UpdateResult => ({ existed: false, written: false, consumedTokens: [], consumedFlash: {} });

const SESSION_FILE = /^[0-9a-f]{64}\.json$/;
const SWEEP_CONCURRENCY = 32;
/** How many times listByUser/destroyByUser read a user's index to catch sessions rotated meanwhile. */
const INDEX_PASSES = 10;

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

const DOC_PREFIX = '{"v":1,"expires":';

/**
 * The expiry of a session file written by this store, read from the start of its
 * text without parsing the rest; undefined when the text does not start that way.
 * Unambiguous: `expires` is the first key after `v`, so nothing inside the id or
 * the record can come before it.
 */
function expiresOf(text: string): number | undefined {
  if (!text.startsWith(DOC_PREFIX)) return undefined;
  const end = text.indexOf(',', DOC_PREFIX.length);
  if (end <= DOC_PREFIX.length) return undefined;
  const expires = Number(text.slice(DOC_PREFIX.length, end));
  return Number.isFinite(expires) ? expires : undefined;
}

/** The text of a session file, keys in the order `expiresOf` relies on. */
function serialize(doc: SessionDoc | MarkDoc): string {
  return JSON.stringify({ v: doc.v, expires: doc.expires, id: doc.id, record: doc.record });
}

/**
 * A value the file system (or JSON) refused while the folder itself works: a file
 * over the process's size limit (EFBIG: `ulimit -f`), or a record that is not JSON.
 */
class RefusedValue extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'RefusedValue';
  }
}

/** A session file's text as a record, a rotated mark, or corrupt (reads as absent). */
function parseFile(text: string): Read {
  try {
    const doc = JSON.parse(text) as Partial<SessionDoc> | null;
    if (doc && doc.v === 1 && typeof doc.id === 'string' && typeof doc.expires === 'number') {
      if (isSessionRecord(doc.record)) return { state: 'ok', doc: doc as SessionDoc, text };
      if (isRotatedMark(doc.record)) return { state: 'mark', doc: doc as unknown as MarkDoc, text };
    }
  } catch {
    // not JSON (garbage, or truncated by something other than this store): absent
  }
  return { state: 'corrupt' };
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
 * - `update`, `rotate`, `set` and `destroy` hold a per-session lock file (O_EXCL),
 *   so concurrent changes from any process never lose each other.
 * - A record's version is the raw text of its file.
 * - A user index file per user backs `listByUser`/`destroyByUser`.
 * - `rotate` leaves a rotated mark in the old id's file for up to 60 s, so a late
 *   update of the old id answers `moved: true`; the sweep removes it when expired.
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
  /** The background sweep timer; `close()` stops it and waits for a run in flight. */
  readonly #sweeper: Sweeper;
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
    // An unref'd timer (never keeps the process alive), one run at a time; across
    // processes, #timedSweep takes turns through the shared sweep lock and stamp.
    this.#sweeper = new Sweeper({
      interval: this.#options.sweepInterval,
      sweep: () => this.#timedSweep(),
      onError: (err) => debug('background sweep failed: %s', err instanceof Error ? err.message : String(err)),
    });
  }

  /** The record and its version (the raw text of its file), or undefined when absent, expired or unreadable. */
  async get(id: string): Promise<VersionedRecord | undefined> {
    try {
      await this.#prepare();
      const read = await this.#read(hashId(id));
      return this.#live(read, id) ? { record: read.doc.record, version: read.text } : undefined;
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

  /**
   * Applies `change` under the session's lock file. With `expected`, when the file
   * still holds exactly the text `expected.version`, the record is not parsed
   * again: the change applies to `expected.record` (the same record that text holds).
   */
  async update(id: string, change: SessionChange, ttlSeconds: number, expected?: VersionedRecord): Promise<UpdateResult> {
    const hash = hashId(id);
    try {
      await this.#prepare();
      return await this.#withLock(this.#layout.sessionLock(hash), async () => {
        const before = await this.#load(hash, id, expected);
        const { record, ...outcome } = applyChange(this.#live(before, id) ? before.doc.record : undefined, change);
        if (record === undefined) return { ...outcome, written: false, ...this.#moved(before, id) };
        const version = await this.#commit(id, hash, before, record, ttlSeconds);
        return { ...outcome, written: true, record, version };
      });
    } catch (err) {
      throw this.#fail('update a session', err);
    }
  }

  /**
   * Regenerates in one lock section: holding the lock files of both ids (taken in
   * the order of their hashes, so two rotates never wait for each other in a
   * circle), reads the record under `oldId`, writes the changed record under
   * `newId` (temporary file + rename), replaces the old file with a rotated mark
   * (expiring after min(60 s, ttl)) and moves the user index entry. An absent,
   * expired or unreadable old record writes nothing; a marked one answers
   * `moved: true`. An update of `oldId` waits for the old id's lock, so it either
   * ran before (and is in the moved record) or runs after and finds the mark.
   *
   * Crash order: the new file is complete before the old one becomes a mark, so a
   * failed write (full disk) leaves the session as it was under the old id.
   */
  async rotate(oldId: string, newId: string, change: SessionChange, ttlSeconds: number, expected?: VersionedRecord): Promise<UpdateResult> {
    const [oldHash, newHash] = [hashId(oldId), hashId(newId)];
    try {
      await this.#prepare();
      const locks = [...new Set([oldHash, newHash])].sort().map((hash) => this.#layout.sessionLock(hash));
      return await this.#withLocks(locks, async () => {
        const before = await this.#load(oldHash, oldId, expected);
        if (!this.#live(before, oldId)) return { ...nothing(), ...this.#moved(before, oldId) };
        const { record, ...outcome } = applyChange(before.doc.record, { ...change, ifExists: true });
        if (record === undefined) return nothing(); // not reached: the record exists
        if (newHash === oldHash) {
          // Rotating to the same id is an update of it.
          const version = await this.#commit(newId, newHash, before, record, ttlSeconds);
          return { ...outcome, written: true, record, version };
        }
        const version = await this.#commit(newId, newHash, await this.#read(newHash), record, ttlSeconds);
        await this.#mark(oldId, oldHash, before, Math.min(ROTATED_MARK_TTL, ttlSeconds));
        return { ...outcome, written: true, record, version };
      });
    } catch (err) {
      throw this.#fail('rotate a session', err);
    }
  }

  /**
   * Reads the user's index, then the session files it names. When it names more
   * than one, they are read holding all their lock files (taken in the order of
   * their hashes, as `rotate` takes its two), so a session in the middle of a
   * rotation is seen either before it (under the old id) or after (under the new
   * one), never twice. An entry that reads as gone (a rotated mark, an absent or
   * expired file, another user's session) makes it read the index again: when the
   * index changed (a session rotated meanwhile), the listing starts over from it.
   * Rotated marks are never listed.
   */
  async listByUser(userId: string): Promise<StoredSession[]> {
    try {
      await this.#prepare();
      const userHash = hashId(userId);
      let index = await this.#readIndex(userHash, userId);
      let listed: StoredSession[] = [];
      for (let pass = 0; pass < INDEX_PASSES; pass++) {
        listed = await this.#snapshot(userId, index);
        if (listed.length === index.length) break; // every entry a live session of the user
        const next = await this.#readIndex(userHash, userId);
        if (next.length === index.length && next.every((id, i) => id === index[i])) break; // stale entries only
        index = next;
      }
      return listed;
    } catch (err) {
      throw this.#fail("list a user's sessions", err);
    }
  }

  /**
   * The live sessions of the user among `ids`, in their order: read under all
   * their locks when there are several (one consistent moment), without a lock
   * when there is one. Should a lock stay busy past `lockTimeout`, the files are
   * read without locks: the listing is then best effort.
   */
  async #snapshot(userId: string, ids: string[]): Promise<StoredSession[]> {
    const readAll = async () => {
      const reads = await Promise.all(ids.map((id) => this.#read(hashId(id))));
      return ids.flatMap((id, i) => {
        const read = reads[i]!;
        return this.#live(read, id) && read.doc.record.user === userId ? [{ id, record: read.doc.record }] : [];
      });
    };
    if (ids.length < 2) return readAll();
    const locks = [...new Set(ids.map(hashId))].sort().map((hash) => this.#layout.sessionLock(hash));
    try {
      return await this.#withLocks(locks, readAll);
    } catch (err) {
      if (!(err instanceof StoreError && err.code === 'E_STORE_TIMEOUT')) throw err;
      debug('listByUser: a session lock stayed busy; listing without locks');
      return readAll();
    }
  }

  /**
   * Deletes the user's sessions but `exceptId`, each under its lock. The index is
   * read again after each pass until it names no id not seen yet: a session
   * rotated meanwhile (its old id deleted here too late, or moved before) is
   * caught under its new id, never left signed in.
   */
  async destroyByUser(userId: string, exceptId?: string): Promise<number> {
    try {
      await this.#prepare();
      let count = 0;
      const seen = new Set<string>(exceptId === undefined ? [] : [exceptId]);
      for (let pass = 0; pass < INDEX_PASSES; pass++) {
        const ids = (await this.#readIndex(hashId(userId), userId)).filter((id) => !seen.has(id));
        if (ids.length === 0) break;
        for (const id of ids) {
          seen.add(id);
          count += await this.#destroyOfUser(userId, id);
        }
      }
      return count;
    } catch (err) {
      throw this.#fail("delete a user's sessions", err);
    }
  }

  /**
   * Deletes `id` when it is the user's (1), or drops its stale index entry (0). A
   * rotated mark is no session: it is neither counted nor deleted (it expires on
   * its own), only the index entry naming it goes; the session it moved to is
   * under its new id in the index, for the next pass.
   */
  async #destroyOfUser(userId: string, id: string): Promise<number> {
    const hash = hashId(id);
    return this.#withLock(this.#layout.sessionLock(hash), async () => {
      const before = await this.#read(hash);
      if (before.state === 'mark' || (before.state === 'ok' && before.doc.id === id && before.doc.record.user !== userId)) {
        // a rotated-away id, or a session moved to another user: only the stale index entry goes
        await this.#unindex(userId, id);
        return 0;
      }
      const live = this.#live(before, id);
      await this.#remove(id, hash, before); // unindexes a readable record of this user
      if (before.state !== 'ok') await this.#unindex(userId, id);
      return live ? 1 : 0;
    });
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
    await this.#sweeper.close();
  }

  // ---- sessions ----

  async #readText(hash: string): Promise<string | undefined> {
    try {
      return await readWhole(this.#layout.sessionFile(hash));
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  async #read(hash: string): Promise<Read> {
    const text = await this.#readText(hash);
    return text === undefined ? { state: 'absent' } : parseFile(text);
  }

  /**
   * `#read`, but when the file's text is exactly `expected.version` (a text this
   * store wrote or read for `id`, so one that parsed as id's record), the record
   * is `expected.record` and only the expiry is read from the text.
   */
  async #load(hash: string, id: string, expected?: VersionedRecord): Promise<Read> {
    if (expected === undefined) return this.#read(hash);
    const text = await this.#readText(hash);
    if (text === undefined) return { state: 'absent' };
    const expires = text === expected.version ? expiresOf(text) : undefined;
    if (expires !== undefined) return { state: 'ok', doc: { v: 1, expires, id, record: expected.record }, text };
    return parseFile(text);
  }

  #live(read: Read, id: string): read is Live {
    return read.state === 'ok' && read.doc.id === id && read.doc.expires > this.#clock();
  }

  /** `{ moved: true }` when the file holds a live rotated mark for `id`. */
  #moved(read: Read, id: string): { moved?: true } {
    return read.state === 'mark' && read.doc.id === id && read.doc.expires > this.#clock() ? { moved: true } : {};
  }

  #expiry(ttlSeconds: number): number {
    return this.#clock() + ttlSeconds * 1000;
  }

  /**
   * Writes the record and keeps the user index in step. Order matters for a crash
   * in between: the new user's index gains the id before the file names the user
   * (a stray index entry is filtered out on read; a missing one would hide the
   * session), and the old user's index loses it only after. Returns the text
   * written: the record's new version.
   */
  async #commit(id: string, hash: string, before: Read, record: SessionRecord, ttlSeconds: number): Promise<string> {
    const previous = before.state === 'ok' && before.doc.id === id ? (before.doc.record.user ?? null) : null;
    const user = record.user ?? null;
    const text = this.#serialize({ v: 1, expires: this.#expiry(ttlSeconds), id, record });
    if (user !== null && user !== previous) await this.#index(user, id);
    await this.#writeSession(hash, text);
    if (previous !== null && previous !== user) await this.#unindex(previous, id);
    return text;
  }

  /**
   * Replaces the old file of a rotation with a rotated mark (atomic rename, so a
   * reader sees the record or the mark), then drops the old id from its user's
   * index (the new id is already there). Should the mark not be written (disk
   * full while the new file just fit), the old file is deleted instead: the
   * rotation stands, and only the `moved` answer for the old id is lost.
   */
  async #mark(id: string, hash: string, before: Live, ttlSeconds: number): Promise<void> {
    if (!(ttlSeconds > 0)) return this.#remove(id, hash, before); // a mark that expires at once is no mark
    try {
      await this.#writeSession(hash, serialize({ v: 1, expires: this.#expiry(ttlSeconds), id, record: ROTATED_MARK }));
    } catch (err) {
      debug('rotate: could not write the rotated mark, deleting the old file instead: %s', err instanceof Error ? err.message : String(err));
      return this.#remove(id, hash, before);
    }
    const user = before.doc.record.user;
    if (user != null) await this.#unindex(user, id);
  }

  async #remove(id: string, hash: string, before: Read): Promise<void> {
    if (before.state === 'absent') return;
    await unlink(this.#layout.sessionFile(hash)).catch((err) => {
      if (errorCode(err) !== 'ENOENT') throw err;
    });
    const user = before.state === 'ok' && before.doc.id === id ? before.doc.record.user : undefined;
    if (user != null) await this.#unindex(user, id);
  }

  #serialize(doc: SessionDoc): string {
    try {
      return serialize(doc);
    } catch (err) {
      // BigInt, a cycle: nothing any folder could hold.
      throw new RefusedValue(`the record is not JSON (${err instanceof Error ? err.message : String(err)})`, { cause: err });
    }
  }

  async #writeSession(hash: string, text: string): Promise<void> {
    await this.#inFolder(this.#layout.shard(hash), () =>
      writeAtomic(this.#layout.sessionFile(hash), text, { mode: this.#options.fileMode, fsync: this.#options.fsync }),
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

  /** Runs `fn` holding every lock in `paths`, taken in the given order (callers sort them). */
  #withLocks<T>(paths: string[], fn: () => Promise<T>): Promise<T> {
    const [first, ...rest] = paths;
    if (first === undefined) return fn();
    return this.#withLock(first, () => this.#withLocks(rest, fn));
  }

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
    if (err instanceof RefusedValue || code === 'EFBIG') {
      // The folder works but cannot hold this value: the application's to fix (500, not 503).
      const fix =
        code === 'EFBIG'
          ? 'The file would be larger than this process may write (ulimit -f, RLIMIT_FSIZE): keep less in the session, or raise the limit.'
          : 'Keep only JSON values in the session.';
      return new StoreError(`[sess] FileStore refused to ${action} in "${this.dir}": ${detail}. ${fix}`, {
        cause: err instanceof RefusedValue ? err.cause : err,
        code: 'E_STORE_REFUSED',
      });
    }
    const hint =
      code === 'ENOSPC' || code === 'EDQUOT'
        ? 'Free disk space (or quota) on that file system.'
        : 'Check that the folder exists or can be created, is a folder, and is writable by this process.';
    return new StoreError(`[sess] FileStore could not ${action} in "${this.dir}": ${detail}. ${hint}`, { cause: err });
  }

  // ---- sweeps ----

  /** One background run (the Sweeper's timer): returns files removed, 0 when skipped. */
  async #timedSweep(): Promise<number> {
    if (this.#closed) return 0;
    try {
      await this.#prepare();
      // Another process swept recently: skip (stamp shared through the file system).
      const last = await stat(this.#layout.stamp).then((s) => s.mtimeMs, () => 0);
      if (Date.now() - last < (this.#options.sweepInterval * 1000) / 2) return 0;
      // One sweeper at a time: a held sweep lock means someone else is at it.
      const count = await this.#withLock(this.#layout.sweepLock, () => this.#sweep(this.#options.sweepBatch), 0);
      debug('background sweep removed %d files', count);
      return count;
    } catch (err) {
      debug('background sweep skipped: %s', err instanceof Error ? err.message : String(err));
      return 0;
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
    // Expired records and expired rotated marks go, and corrupt files.
    const doomed = (read: Read) => read.state === 'corrupt' || ((read.state === 'ok' || read.state === 'mark') && read.doc.expires <= this.#clock());
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
