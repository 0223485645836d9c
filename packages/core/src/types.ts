/**
 * The data of a session, typed by the application through declaration merging:
 *
 * @example
 * declare module '@sess/core' {
 *   interface SessionData { userId: string; visits: number }
 * }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface SessionData {}

/** `SessionData` once the app has extended it, otherwise any string key. */
export type DefaultData = keyof SessionData extends never ? Record<string, any> : SessionData;

/** A JSON value as a store keeps it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * What a store keeps for one session. Plain JSON: stores serialise it and never
 * interpret it, except `user` (the user index) and their own expiry.
 */
export interface SessionRecord {
  /** The session's data (`put`, `increment`). */
  data: Record<string, JsonValue>;
  /** Flash values waiting for the next request. */
  flash: Record<string, JsonValue>;
  /** CSRF tokens, oldest first, at most 20. */
  tokens: string[];
  /** Epoch milliseconds when the session was created (absolute timeout). */
  createdAt: number;
  /** Epoch milliseconds of the last recorded activity (idle timeout). */
  lastSeen: number;
  /** The user this session belongs to (`session.setUser`), for `listSessions`/`destroySessions`. */
  user?: string | null;
  /** Details the app chose to keep about the session (user agent, IP) for a sessions page. */
  meta?: Record<string, string>;
}

/**
 * One request's changes to a record, declarative and JSON-serialisable so that a
 * store can apply it atomically anywhere: in JavaScript under a lock or a SQL
 * transaction, or in Redis as one Lua script. `applyChange` defines its meaning.
 *
 * Order of application: `ifExists` check, `reset`, `clear`, `remove`, `put`, `increment`,
 * `consumeFlash`, `flash`, `consumeTokens`, `addTokens`, `user`/`meta`, `lastSeen`.
 */
export interface SessionChange {
  /** Apply only when the record still exists (never resurrect a destroyed session). */
  ifExists?: boolean;
  /**
   * Start from an empty record: data, flash, tokens, user and meta dropped, and
   * `createdAt` set to `lastSeen` (`regenerateId()` without keeping data).
   */
  reset?: boolean;
  /** Drop all data and pending flash before the rest of the change. */
  clear?: boolean;
  remove?: string[];
  put?: Record<string, JsonValue>;
  /** Add to numeric values; a missing or non-numeric value counts as 0. */
  increment?: Record<string, number>;
  /** Take these pending flash values out of the record; the result says which were there. */
  consumeFlash?: string[];
  /** Pending flash values for the next request, replacing the same keys. */
  flash?: Record<string, JsonValue>;
  /** Remove these tokens; the result says which were present (each passes once). */
  consumeTokens?: string[];
  /** Append to the token ring, keeping the newest 20. */
  addTokens?: string[];
  /** Set (string) or clear (null) the session's user. */
  user?: string | null;
  /** Replace the meta details. */
  meta?: Record<string, string>;
  /** Epoch milliseconds of this activity; also the creation time of a new record. */
  lastSeen: number;
}

export interface ChangeResult {
  /** The record after the change, or undefined when `ifExists` found none (nothing written). */
  record: SessionRecord | undefined;
  /** Whether a record existed before the change. */
  existed: boolean;
  /** The consumed tokens that really were in the ring. */
  consumedTokens: string[];
  /** The consumed flash values that really were pending. */
  consumedFlash: Record<string, JsonValue>;
}

/**
 * A store's own mark of one stored state of a record: the raw text it read, a
 * revision counter, an etag. Opaque to core, compared only by the store that
 * made it. Two reads of an unchanged record give equal versions.
 */
export type RecordVersion = string | number;

/** A record as a store read (or wrote) it, with the version of that state. */
export interface VersionedRecord {
  record: SessionRecord;
  version: RecordVersion;
}

/**
 * What `Store.update` and `Store.rotate` return: the change's outcome as
 * `applyChange` defines it, and when something was written, the record and
 * version now stored (so the next write of the same request can pass them back
 * as `expected` and take the store's cheap compare-and-set step).
 */
export interface UpdateResult {
  /** Whether a record existed before the change (for `rotate`: under the old id). */
  existed: boolean;
  /** Whether a record was written. */
  written: boolean;
  /**
   * For an update that found no record: the id was rotated away (regenerated)
   * shortly before, so the change belonged to a session that lives on under
   * another id. Core then fails the request visibly (409) instead of dropping
   * the change quietly, as it does for a destroyed session.
   */
  moved?: boolean;
  /** The consumed tokens that really were in the ring. */
  consumedTokens: string[];
  /** The consumed flash values that really were pending. */
  consumedFlash: Record<string, JsonValue>;
  /** The record now stored, when `written`. */
  record?: SessionRecord;
  /** Its version, when `written`. */
  version?: RecordVersion;
}

/** A session as a user index lists it. */
export interface StoredSession {
  id: string;
  record: SessionRecord;
}

/**
 * The store contract (v2): small, async, the same for every backend, and every
 * method one that core calls. Records are plain JSON; a missing, expired or
 * unreadable record reads as `undefined`, and only a failing backend throws
 * (ideally a `StoreError`; core wraps anything else).
 *
 * A store without a native atomic update builds `update` and `rotate` from a
 * compare-and-set with the store kit (`@sess/core/store`).
 */
export interface Store {
  /** The record and its version, or undefined when absent, expired or unreadable. */
  get(id: string): Promise<VersionedRecord | undefined>;
  /** Create or replace, expiring after `ttlSeconds` (core calls it for new ids only). */
  set(id: string, record: SessionRecord, ttlSeconds: number): Promise<void>;
  /** Delete; deleting an absent id is not an error. */
  destroy(id: string): Promise<void>;
  /**
   * Applies `change` atomically against the record as it is stored now
   * (`applyChange` defines the meaning) and writes the result with `ttlSeconds`.
   *
   * `expected`, when given, is the `{ record, version }` this caller holds. When
   * the stored version still equals `expected.version`, a store may write
   * `applyChange(expected.record, change)` in one cheap compare-and-set step;
   * otherwise it applies the change to the current record. The outcome must be
   * the same either way.
   */
  update(id: string, change: SessionChange, ttlSeconds: number, expected?: VersionedRecord): Promise<UpdateResult>;
  /**
   * Regenerate as one atomic step: the record under `oldId`, with `change`
   * applied, moves to `newId` (expiring after `ttlSeconds`) and `oldId` is gone.
   * When no record exists under `oldId`, nothing is written (`existed: false`):
   * a session revoked meanwhile is never brought back. An update of `oldId`
   * that overlaps is either in the moved record or finds `oldId` gone.
   * `change.ifExists` is implied. `expected` as for `update`.
   *
   * The old id keeps a rotated mark (`ROTATED_MARK`, a JSON object with the own
   * key `"sess:rotated"`) for a short while (60 s, or the record's remaining
   * ttl if shorter): it reads as absent everywhere, is never listed, and makes
   * an `update` of the old id answer `{ existed: false, written: false, moved: true }`.
   * A `rotate` of a marked id answers the same and writes nothing.
   */
  rotate(oldId: string, newId: string, change: SessionChange, ttlSeconds: number, expected?: VersionedRecord): Promise<UpdateResult>;
  /** Optional: delete expired records, returning how many. */
  prune?(): Promise<number>;
  /** Optional: the live sessions whose record has `user === userId`. */
  listByUser?(userId: string): Promise<StoredSession[]>;
  /** Optional: delete the user's sessions but `exceptId`, returning how many. */
  destroyByUser?(userId: string, exceptId?: string): Promise<number>;
  /** Optional: release connections and timers the store owns. */
  close?(): Promise<void>;
}
