import { applyChange, isSessionRecord } from './change.js';
import type { SessionChange, SessionRecord, Store, StoredSession, UpdateResult } from './types.js';

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
  expires: number;
  user: string | null;
}

/**
 * Sessions in this process's memory: for tests, demos and single-process apps.
 * `update` is atomic because it runs without yielding to the event loop.
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

  async get(id: string): Promise<SessionRecord | undefined> {
    return this.#read(id);
  }

  async set(id: string, record: SessionRecord, ttlSeconds: number): Promise<void> {
    this.#write(id, record, ttlSeconds);
  }

  async destroy(id: string): Promise<void> {
    this.#delete(id);
  }

  async touch(id: string, ttlSeconds: number): Promise<void> {
    const entry = this.entries.get(id);
    if (entry && entry.expires > this.#clock()) entry.expires = this.#clock() + ttlSeconds * 1000;
  }

  async update(id: string, change: SessionChange, ttlSeconds: number): Promise<UpdateResult> {
    const { record, ...result } = applyChange(this.#read(id), change);
    if (record) this.#write(id, record, ttlSeconds);
    return { ...result, written: record !== undefined };
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
      const record = this.#read(id);
      if (record) out.push({ id, record });
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

  #read(id: string): SessionRecord | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (entry.expires <= this.#clock()) {
      this.#delete(id);
      return undefined;
    }
    try {
      const record: unknown = JSON.parse(entry.json);
      if (isSessionRecord(record)) return record;
    } catch {
      // corrupt: reads as absent, like every store
    }
    this.#delete(id);
    return undefined;
  }

  #write(id: string, record: SessionRecord, ttlSeconds: number): void {
    const user = record.user ?? null;
    const previous = this.entries.get(id);
    if (previous && previous.user !== user) this.#unindex(previous.user, id);
    this.entries.set(id, { json: JSON.stringify(record), expires: this.#clock() + ttlSeconds * 1000, user });
    if (user !== null) {
      let ids = this.#users.get(user);
      if (!ids) this.#users.set(user, (ids = new Set()));
      ids.add(id);
    }
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
