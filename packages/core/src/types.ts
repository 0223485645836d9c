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
 * Order of application: `ifExists` check, `clear`, `remove`, `put`, `increment`,
 * `consumeFlash`, `flash`, `consumeTokens`, `addTokens`, `user`/`meta`, `lastSeen`.
 */
export interface SessionChange {
  /** Apply only when the record still exists (never resurrect a destroyed session). */
  ifExists?: boolean;
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

/** What `Store.update` returns: the change's outcome, without the record itself. */
export type UpdateResult = Omit<ChangeResult, 'record'> & { written: boolean };

/** A session as a user index lists it. */
export interface StoredSession {
  id: string;
  record: SessionRecord;
}

/**
 * The store contract: small, async, the same for every backend. Records are plain
 * JSON; a missing, expired or unreadable record reads as `undefined`, and only a
 * failing backend throws (ideally a `StoreError`; core wraps anything else).
 */
export interface Store {
  /** The record, or undefined when absent, expired or unreadable. */
  get(id: string): Promise<SessionRecord | undefined>;
  /** Create or replace, expiring after `ttlSeconds`. */
  set(id: string, record: SessionRecord, ttlSeconds: number): Promise<void>;
  /** Delete; deleting an absent id is not an error. */
  destroy(id: string): Promise<void>;
  /** Extend expiry without rewriting the record. */
  touch(id: string, ttlSeconds: number): Promise<void>;
  /**
   * Optional: apply `change` atomically against the stored record (`applyChange`
   * defines the meaning) and write the result with `ttlSeconds`. Without it, core
   * falls back to get + applyChange + set, which is not atomic.
   *
   * `base`, when given, is the record exactly as this caller read it (the object
   * `get` returned). A store may use it for a compare-and-set fast path: when
   * the stored record is still `base`, write `applyChange(base, change)` in one
   * cheap step; otherwise apply the change to the current record as usual. The
   * outcome must be the same either way.
   */
  update?(id: string, change: SessionChange, ttlSeconds: number, base?: SessionRecord): Promise<UpdateResult>;
  /** Optional: delete expired records, returning how many. */
  prune?(): Promise<number>;
  /** Optional: the live sessions whose record has `user === userId`. */
  listByUser?(userId: string): Promise<StoredSession[]>;
  /** Optional: delete the user's sessions but `exceptId`, returning how many. */
  destroyByUser?(userId: string, exceptId?: string): Promise<number>;
  /** Optional: release connections and timers the store owns. */
  close?(): Promise<void>;
}
