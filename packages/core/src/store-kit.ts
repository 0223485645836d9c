/**
 * The store kit (`@sess/core/store`): what a store author needs beside the
 * contract. A backend that has no native atomic update (a key-value store with
 * a conditional put: DynamoDB, Cloudflare KV with etags, MongoDB) implements
 * the two calls of `CasBackend` and gets `update`, `rotate` and `get` from
 * `casStore()`; the rest (`set`, `destroy`, the user index) are one call each.
 *
 * @example
 * const cas = casStore({ read, writeIf });
 * class MyStore implements Store {
 *   get = cas.get; update = cas.update; rotate = cas.rotate;
 *   set = (id, record, ttl) => backend.put(id, JSON.stringify(record), ttl);
 *   destroy = (id) => backend.delete(id);
 * }
 */
import { ROTATED_MARK, ROTATED_MARK_TTL, applyChange, isRotatedMark, isSessionRecord } from './change.js';
import { type ConflictEvent, diagnostics, idPrefix } from './diagnostics.js';
import { sweepDelay } from './deadlines.js';
import { StoreError, toStoreError } from './errors.js';
import type { RecordVersion, SessionChange, SessionRecord, UpdateResult, VersionedRecord } from './types.js';

export { applyChange, emptyRecord, isEmptyChange, isRotatedMark, isSessionRecord, ROTATED_MARK, ROTATED_MARK_TTL, TOKEN_RING_SIZE } from './change.js';
export { StoreError, toStoreError } from './errors.js';
export type { RecordVersion, SessionChange, SessionRecord, Store, StoredSession, UpdateResult, VersionedRecord } from './types.js';

/** What a backend keeps under one key, as the kit reads it. */
export interface RawEntry {
  /** The parsed value: a `SessionRecord`, or anything else (a tombstone, corrupt data), which reads as absent. */
  value: unknown;
  /** The backend's version of this entry (the raw text, a revision, an etag). */
  version: RecordVersion;
}

/** The two calls a compare-and-set backend provides. */
export interface CasBackend {
  /** The entry under `id`, or undefined when there is none (or it expired). */
  read(id: string): Promise<RawEntry | undefined>;
  /**
   * Writes `value` under `id`, expiring after `ttlSeconds`, only when the entry
   * there still has version `expected` (`null`: only when there is no entry).
   * Returns the new version, or undefined when the condition failed.
   */
  writeIf(id: string, value: unknown, ttlSeconds: number, expected: RecordVersion | null): Promise<RecordVersion | undefined>;
}

export interface CasStoreOptions {
  /**
   * How many times a write that lost a race is retried before the call fails
   * with a `StoreError` (each retry reads the record again).
   * @default 100
   */
  attempts?: number;
  /** Seconds a rotated-away id keeps its mark (overlapping writes on the old id learn it moved). @default 60 */
  tombstoneTtl?: number;
}

/**
 * `get`, `update` and `rotate` of the store contract from a compare-and-set
 * backend: an optimistic loop (read, apply, write if unchanged, else again).
 */
export function casStore(backend: CasBackend, options: CasStoreOptions = {}) {
  const attempts = options.attempts ?? 100;
  const tombstoneTtl = options.tombstoneTtl ?? ROTATED_MARK_TTL;

  type Current = { record: SessionRecord | undefined; version: RecordVersion | null; moved?: boolean };
  const read = async (id: string): Promise<Current> => {
    const entry = await backend.read(id);
    if (entry === undefined) return { record: undefined, version: null };
    if (isRotatedMark(entry.value)) return { record: undefined, version: entry.version, moved: true };
    return { record: isSessionRecord(entry.value) ? entry.value : undefined, version: entry.version };
  };
  const gone = (current: Current): UpdateResult => ({ existed: false, written: false, consumedTokens: [], consumedFlash: {}, ...(current.moved ? { moved: true } : {}) });

  const conflict = (action: string) =>
    new StoreError(`[sess] the session store could not ${action}: ${attempts} attempts in a row lost a race with other writers. Check for a runaway client writing the same session.`, { code: 'E_STORE' });

  return {
    async get(id: string): Promise<VersionedRecord | undefined> {
      const entry = await backend.read(id);
      return entry !== undefined && isSessionRecord(entry.value) ? { record: entry.value, version: entry.version } : undefined;
    },

    async update(id: string, change: SessionChange, ttlSeconds: number, expected?: VersionedRecord): Promise<UpdateResult> {
      // First try on the caller's copy without reading: one conditional write when nothing changed meanwhile.
      let current: Current | undefined = expected !== undefined ? { record: expected.record, version: expected.version } : undefined;
      for (let i = 0; i < attempts; i++) {
        current ??= await read(id);
        const { record, ...outcome } = applyChange(current.record, change);
        if (record === undefined) return gone(current);
        const version = await backend.writeIf(id, record, ttlSeconds, current.version);
        if (version !== undefined) return { ...outcome, written: true, record, version };
        current = undefined;
        conflicted('update', id, i + 1);
      }
      throw conflict('update the session');
    },

    async rotate(oldId: string, newId: string, change: SessionChange, ttlSeconds: number, expected?: VersionedRecord): Promise<UpdateResult> {
      let current: Current | undefined = expected !== undefined ? { record: expected.record, version: expected.version } : undefined;
      for (let i = 0; i < attempts; i++) {
        current ??= await read(oldId);
        if (current.record === undefined) return gone(current);
        const { record, ...outcome } = applyChange(current.record, { ...change, ifExists: true });
        // The linearisation point: the old id becomes a rotated mark only if nobody wrote it
        // since we read it. From here on an overlapping update of the old id learns it moved.
        const marked = await backend.writeIf(oldId, ROTATED_MARK, Math.min(tombstoneTtl, ttlSeconds), current.version);
        if (marked === undefined) {
          current = undefined;
          conflicted('rotate', oldId, i + 1);
          continue;
        }
        const version = await backend.writeIf(newId, record, ttlSeconds, null);
        if (version === undefined) throw new StoreError('[sess] the session store could not rotate the session: the new id is taken.', { code: 'E_STORE' });
        return { ...outcome, written: true, record, version };
      }
      throw conflict('rotate the session');
    },
  };
}

/** A compare-and-set write lost a race: published on `sess:store:conflict` (stores with their own CAS may call it too). */
export function conflicted(method: ConflictEvent['method'], id: string, attempt: number): void {
  if (diagnostics.conflict.hasSubscribers) diagnostics.conflict.publish({ method, idPrefix: idPrefix(id), attempt } satisfies ConflictEvent);
}

/** Runs a backend call, turning whatever it throws into a `StoreError` naming `action`. */
export async function guard<T>(action: string, run: () => Promise<T>, isRefusal?: (err: unknown) => boolean): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw toStoreError(err, action, isRefusal?.(err) ?? false);
  }
}

export interface SweeperOptions {
  /** Seconds between sweeps; 0 disables the timer. */
  interval: number;
  /** One sweep: deletes expired records and returns how many. */
  sweep: () => Promise<number>;
  /** Called with a failed sweep's error (the timer keeps running). */
  onError?: (err: unknown) => void;
}

/**
 * The expiry sweeper of a store: an unref'd timer (it never keeps the process
 * alive), one sweep at a time (a slow sweep is not stacked), and `close()`
 * that stops the timer and waits for the sweep in progress.
 */
export class Sweeper {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;
  readonly #options: SweeperOptions;

  constructor(options: SweeperOptions) {
    this.#options = options;
    if (options.interval > 0) {
      this.#timer = setInterval(() => {
        this.run().catch((err) => options.onError?.(err));
      }, sweepDelay(options.interval));
      this.#timer.unref();
    }
  }

  /** Sweeps now, or joins the sweep in progress. */
  run(): Promise<number> {
    this.#running ??= this.#options.sweep().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Stops the timer and waits for a sweep in progress. */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }
}
