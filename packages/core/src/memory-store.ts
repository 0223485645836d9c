import { ROTATED_MARK, ROTATED_MARK_TTL, applyChange, isRotatedMark, isSessionRecord, updateResult } from './change.js';
import { ConfigError } from './errors.js';
import { freezeJson } from './value.js';
import { sweepDelay } from './deadlines.js';
import type { JsonValue, SessionChange, SessionRecord, Store, StoredSession, UpdateResult, VersionedRecord } from './types.js';

export interface MemoryStoreOptions {
  /**
   * Seconds between sweeps of expired records (0: never; expired records are
   * still never returned, and are dropped when read).
   * @default 60
   */
  sweepInterval?: number;
  /** The clock, in epoch milliseconds. @default Date.now */
  clock?: () => number;
}

/**
 * One stored record as one string: its expiry (epoch ms), a `|`, and the
 * record's JSON. Serialised, as every other store keeps it (no aliasing, sizes
 * are real), and nothing else per session: an idle session costs its id, a map
 * slot and this string. The string is also the record's version (two reads of
 * an unchanged record give the same one; an equal string means an equal record).
 */
const SEP = '|';

/** The expiry of a packed entry. */
/** How many parsed records a MemoryStore keeps for the next read of the same session. */
const PARSED_CACHE_SIZE = 1000;

const expiresOf = (entry: string) => Number(entry.slice(0, entry.indexOf(SEP)));
/** The JSON of a packed entry (a slice: no copy). */
const jsonOf = (entry: string) => entry.slice(entry.indexOf(SEP) + 1);

/**
 * `${expires}|${json}` as one flat string of its exact size. The concatenation
 * is a rope over JSON.stringify's result, which carries the stringifier's
 * spare capacity (about 100 bytes a session); reading a character flattens the
 * rope into one exact copy, and the garbage collector then drops the rope and
 * the original. (Measured by bench/src/scale.mjs: 434 B of heap per idle
 * session before, with an Entry object per session, under 300 B after.)
 */
function pack(expires: number, json: string): string {
  const entry = `${expires}${SEP}${json}`;
  entry.charCodeAt(0); // flattens
  return entry;
}

/**
 * Sessions in this process's memory: for tests, demos and single-process apps.
 * `update` and `rotate` are atomic because they run without yielding to the
 * event loop. A record's version is its stored text.
 *
 * @example
 * const manager = new SessionManager({ secret, store: new MemoryStore() });
 */
export class MemoryStore implements Store {
  /** @internal Exposed for tests that need to plant corrupt data: id -> `${expires}|${json}`. */
  readonly entries = new Map<string, string>();
  readonly #parsed = new Map<string, { entry: string; record: SessionRecord }>();
  /** The user of each record that has one (most have none: no cost for them). */
  readonly #userOf = new Map<string, string>();
  readonly #users = new Map<string, Set<string>>();
  readonly #clock: () => number;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #every: number;
  #closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.#clock = options.clock ?? (() => Date.now()); // late-bound: fake timers replace Date.now
    // The sweep timer starts with the first write, not here: Workers refuse timers
    // at the top level of a module, where a store is usually made.
    const every = options.sweepInterval ?? 60;
    if (typeof every !== 'number' || !Number.isFinite(every) || every < 0) {
      throw new ConfigError(`[sess] MemoryStore's sweepInterval must be zero (no sweeps) or a positive number of seconds, not ${String(every)}.`);
    }
    this.#every = every;
  }

  #startSweeps(): void {
    if (this.#every <= 0 || this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => void this.prune(), sweepDelay(this.#every));
    // A sweep must never keep the process alive (runtimes without unref have no such issue).
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /**
   * The records parsed lately, with the entry each was parsed from: a session read
   * again before it changes is not parsed again (a JSON.parse was the largest part
   * of a read's cost in a server's profile). Bounded (first in, first out), and
   * frozen all the way down, since every reader of the id gets the same objects.
   */
  #remember(id: string, entry: string, record: SessionRecord): void {
    const parsed = this.#parsed;
    if (parsed.size >= PARSED_CACHE_SIZE && !parsed.has(id)) parsed.delete(parsed.keys().next().value as string);
    freezeJson(record as unknown as JsonValue);
    parsed.set(id, { entry, record });
  }

  /** How many records are held, expired ones included until swept. */
  get size(): number {
    return this.entries.size;
  }

  async get(id: string): Promise<VersionedRecord | undefined> {
    return this.#read(id);
  }

  async set(id: string, record: SessionRecord, ttlSeconds: number): Promise<void> {
    this.#write(id, record, ttlSeconds);
  }

  async destroy(id: string): Promise<void> {
    this.#delete(id);
  }

  async update(id: string, change: SessionChange, ttlSeconds: number, expected?: VersionedRecord): Promise<UpdateResult> {
    const current = this.#current(id, expected);
    const result = applyChange(current?.record, change);
    if (!result.record) return { ...updateResult(result), ...this.#moved(id) };
    return updateResult(result, this.#write(id, result.record, ttlSeconds));
  }

  async rotate(oldId: string, newId: string, change: SessionChange, ttlSeconds: number, expected?: VersionedRecord): Promise<UpdateResult> {
    const current = this.#current(oldId, expected);
    if (!current) return { existed: false, written: false, consumedTokens: [], consumedFlash: {}, ...this.#moved(oldId) };
    const { record, ...result } = applyChange(current.record, { ...change, ifExists: true });
    // The old id keeps a rotated mark, so an overlapping update of it learns the session moved.
    this.#write(oldId, ROTATED_MARK, Math.min(ROTATED_MARK_TTL, ttlSeconds));
    return { ...result, written: true, record: record!, version: this.#write(newId, record!, ttlSeconds) };
  }

  /** `{ moved: true }` when `id` holds a live rotated mark. */
  #moved(id: string): { moved?: true } {
    const entry = this.entries.get(id);
    return entry !== undefined && expiresOf(entry) > this.#clock() && jsonOf(entry).startsWith('{"sess:rotated"') ? { moved: true } : {};
  }

  async prune(): Promise<number> {
    const now = this.#clock();
    let count = 0;
    for (const [id, entry] of this.entries) {
      if (expiresOf(entry) <= now) {
        this.#delete(id);
        count++;
      }
    }
    return count;
  }

  async listByUser(userId: string): Promise<StoredSession[]> {
    const out: StoredSession[] = [];
    for (const id of this.#users.get(userId) ?? []) {
      const found = this.#read(id);
      if (found) out.push({ id, record: found.record });
    }
    return out;
  }

  async destroyByUser(userId: string, exceptId?: string): Promise<number> {
    let count = 0;
    for (const id of [...(this.#users.get(userId) ?? [])]) {
      if (id === exceptId) continue;
      if (this.#read(id)) count++;
      this.#delete(id);
    }
    return count;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The stored record, or the caller's copy when its version is still the stored one (no parse). */
  #current(id: string, expected: VersionedRecord | undefined): VersionedRecord | undefined {
    const entry = this.entries.get(id);
    if (expected !== undefined && entry !== undefined && entry === expected.version && expiresOf(entry) > this.#clock()) return expected;
    return this.#read(id);
  }

  #read(id: string): VersionedRecord | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (expiresOf(entry) <= this.#clock()) {
      this.#delete(id);
      return undefined;
    }
    const parsed = this.#parsed.get(id);
    if (parsed !== undefined && parsed.entry === entry) return { record: parsed.record, version: entry };
    try {
      const record: unknown = JSON.parse(jsonOf(entry));
      if (isSessionRecord(record)) {
        this.#remember(id, entry, record);
        return { record, version: entry };
      }
      if (isRotatedMark(record)) return undefined; // reads as absent, stays until it expires
    } catch {
      // corrupt: reads as absent, like every store
    }
    this.#delete(id);
    return undefined;
  }

  #write(id: string, record: SessionRecord | typeof ROTATED_MARK, ttlSeconds: number): string {
    if (this.#timer === undefined) this.#startSweeps();
    const user = 'user' in record ? (record.user ?? null) : null;
    const previous = this.#userOf.get(id) ?? null;
    if (previous !== user) {
      this.#unindex(previous, id);
      if (user === null) this.#userOf.delete(id);
      else this.#userOf.set(id, user);
    }
    const entry = pack(this.#clock() + ttlSeconds * 1000, JSON.stringify(record));
    this.entries.set(id, entry);
    if (user !== null) {
      let ids = this.#users.get(user);
      if (!ids) this.#users.set(user, (ids = new Set()));
      ids.add(id);
    }
    return entry;
  }

  #delete(id: string): void {
    if (!this.entries.delete(id)) return;
    const user = this.#userOf.get(id);
    if (user === undefined) return;
    this.#userOf.delete(id);
    this.#unindex(user, id);
  }

  #unindex(user: string | null, id: string): void {
    if (user === null) return;
    const ids = this.#users.get(user);
    ids?.delete(id);
    if (ids?.size === 0) this.#users.delete(user);
  }
}
