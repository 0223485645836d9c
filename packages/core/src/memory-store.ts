import { ROTATED_MARK, ROTATED_MARK_TTL, applyChange, isRotatedMark, isSessionRecord } from './change.js';
import type { SessionChange, SessionRecord, Store, StoredSession, UpdateResult, VersionedRecord } from './types.js';

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

interface Entry {
  /** Serialised, as every other store keeps it: no aliasing, and sizes are real. */
  json: string;
  /** Revision of this entry: unique in the store (a deleted and re-created id never repeats one). */
  version: number;
  expires: number;
  user: string | null;
}

/**
 * Sessions in this process's memory: for tests, demos and single-process apps.
 * `update` and `rotate` are atomic because they run without yielding to the
 * event loop. Versions are revision numbers.
 *
 * @example
 * const manager = new SessionManager({ secret, store: new MemoryStore() });
 */
export class MemoryStore implements Store {
  /** @internal Exposed for tests that need to plant corrupt data. */
  readonly entries = new Map<string, Entry>();
  readonly #users = new Map<string, Set<string>>();
  readonly #clock: () => number;
  #timer: NodeJS.Timeout | undefined;
  #revision = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.#clock = options.clock ?? (() => Date.now()); // late-bound: fake timers replace Date.now
    const every = options.sweepInterval ?? 60;
    if (every > 0) {
      this.#timer = setInterval(() => void this.prune(), every * 1000);
      this.#timer.unref(); // a sweep must never keep the process alive
    }
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
    const { record, ...result } = applyChange(current?.record, change);
    if (!record) return { ...result, written: false, ...this.#moved(id) };
    return { ...result, written: true, record, version: this.#write(id, record, ttlSeconds) };
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
    return entry !== undefined && entry.expires > this.#clock() && entry.json.startsWith('{"sess:rotated"') ? { moved: true } : {};
  }

  async prune(): Promise<number> {
    const now = this.#clock();
    let count = 0;
    for (const [id, entry] of this.entries) {
      if (entry.expires <= now) {
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
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The stored record, or the caller's copy when its version is still the stored one (no parse). */
  #current(id: string, expected: VersionedRecord | undefined): VersionedRecord | undefined {
    const entry = this.entries.get(id);
    if (expected !== undefined && entry !== undefined && entry.version === expected.version && entry.expires > this.#clock()) return expected;
    return this.#read(id);
  }

  #read(id: string): VersionedRecord | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (entry.expires <= this.#clock()) {
      this.#delete(id);
      return undefined;
    }
    try {
      const record: unknown = JSON.parse(entry.json);
      if (isSessionRecord(record)) return { record, version: entry.version };
      if (isRotatedMark(record)) return undefined; // reads as absent, stays until it expires
    } catch {
      // corrupt: reads as absent, like every store
    }
    this.#delete(id);
    return undefined;
  }

  #write(id: string, record: SessionRecord | typeof ROTATED_MARK, ttlSeconds: number): number {
    const user = 'user' in record ? (record.user ?? null) : null;
    const previous = this.entries.get(id);
    if (previous && previous.user !== user) this.#unindex(previous.user, id);
    const version = ++this.#revision;
    this.entries.set(id, { json: JSON.stringify(record), version, expires: this.#clock() + ttlSeconds * 1000, user });
    if (user !== null) {
      let ids = this.#users.get(user);
      if (!ids) this.#users.set(user, (ids = new Set()));
      ids.add(id);
    }
    return version;
  }

  #delete(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    this.#unindex(entry.user, id);
  }

  #unindex(user: string | null, id: string): void {
    if (user === null) return;
    const ids = this.#users.get(user);
    ids?.delete(id);
    if (ids?.size === 0) this.#users.delete(user);
  }
}
