import { timingSafeEqual } from 'node:crypto';
import { debuglog } from 'node:util';
import { TOKEN_RING_SIZE, isEmptyChange } from './change.js';
import { ValueError } from './errors.js';
import { generateId, generateTokenValue, isIdShape } from './ids.js';
import type { DefaultData, JsonValue, SessionChange, SessionRecord, VersionedRecord } from './types.js';
import { freezeJson, setOwn, toStorable } from './value.js';
import { type StandardSchemaV1, checkDataNow } from './schema.js';

const debug = debuglog('sess');

/** Keys of the session data, or any string when the data is untyped. */
export type SessionKey<Data> = Extract<keyof Data, string>;
type Key<Data> = SessionKey<Data>;
/** Keys whose values are numbers: what `increment` and `decrement` accept. */
export type NumericKey<Data> = { [K in Key<Data>]-?: NonNullable<Data[K]> extends number ? K : never }[Key<Data>];

/** The longest user id `setUser` accepts: every store can keep it (the SQL column is varchar(512)). */
export const MAX_USER_ID_LENGTH = 512;

/**
 * What the manager knows about a session that the application does not touch.
 * Kept behind a symbol so it is not part of the public surface.
 * @internal
 */
export interface SessionState {
  id: string;
  /** The id the session was loaded with, when it came from the store. */
  loadedId: string | undefined;
  /**
   * The record and store version this request holds (undefined for a new
   * session): base for size checks, and the `expected` of every write, moved
   * forward by each write so the next one takes the store's cheap path too.
   */
  loaded: VersionedRecord | undefined;
  /** regenerateId() of a loaded session: the id whose record moves to `id` at commit. */
  rotateFrom: string | undefined;
  /** The CSRF token given to `load`, when the store really consumed it. */
  tokenUsed: boolean;
  isNew: boolean;
  /** The cookie was signed with an old secret: send it again, signed with the current one. */
  resign: boolean;
  /** A record must be written even if nothing changed (after regenerateId). */
  mustSave: boolean;
  /** destroy() was called: expire the cookie unless a new session was started after it. */
  destroyed: boolean;
  /** Ids whose records are deleted at commit (destroy, timeout). */
  deletes: string[];
  change: SessionChange;
  createdAt: number;
  lastSeen: number;
  committed: Promise<unknown> | undefined;
}

/** @internal */
export const STATE: unique symbol = Symbol('sess.state');

/**
 * @internal The manager that loaded the session (see `managerOf`). A global
 * symbol: an ESM and a CJS copy of core both find it.
 */
export const MANAGER: unique symbol = Symbol.for('sess.manager') as typeof MANAGER;

export interface SessionTimes {
  idleTimeout: number;
  absoluteTimeout: number;
  /** The manager's schema: `put`, `set` and `increment` check the data they would leave. */
  schema?: StandardSchemaV1 | undefined;
}

/**
 * One session during one request. Every method is synchronous and works in
 * memory; the manager applies the recorded changes to the store at commit.
 *
 * Reading order for a key: values set with `now()`, then flash values readable
 * in this request, then session data.
 *
 * @example
 * session.put('cart', ['sku-1']);
 * session.flash('success', 'Added to cart');
 * const visits = session.increment('visits');
 */
export class Session<Data extends object = DefaultData> {
  /** @internal */
  readonly [STATE]: SessionState;
  /** @internal */
  readonly [MANAGER]: unknown;
  /**
   * The data; until the first change, the loaded record's own object (shared
   * with the version the manager holds as `expected`, so never changed in
   * place: `#ownData()` copies it first). A read-only request copies nothing.
   */
  #data: Record<string, JsonValue>;
  #dataShared: boolean;
  /** Flash values readable in this request (delivered from the last one, or flashed now). */
  #flashNow: Record<string, JsonValue>;
  /** Flash values for the next request (flashed or reflashed in this one). */
  #flashNext: Record<string, JsonValue> = {};
  #nowValues: Record<string, JsonValue> = {};
  /** The CSRF token ring; shared with the loaded record until the first change, like `#data`. */
  #tokens: string[];
  #tokensShared: boolean;
  #user: string | null;
  readonly #times: SessionTimes;

  /** @internal Sessions are made by `SessionManager.load`. */
  constructor(
    init: { id: string; record: SessionRecord; isNew: boolean; resign?: boolean; flash?: Record<string, JsonValue>; loaded?: VersionedRecord; tokenUsed?: boolean },
    times: SessionTimes,
    owner?: unknown,
  ) {
    this[MANAGER] = owner;
    const { record } = init;
    this.#data = init.isNew ? {} : record.data;
    this.#dataShared = !init.isNew;
    this.#flashNow = init.flash ?? {};
    this.#tokens = record.tokens;
    this.#tokensShared = true;
    this.#user = record.user ?? null;
    this.#times = times;
    this[STATE] = {
      id: init.id,
      loadedId: init.isNew ? undefined : init.id,
      loaded: init.isNew ? undefined : init.loaded,
      rotateFrom: undefined,
      tokenUsed: init.tokenUsed ?? false,
      isNew: init.isNew,
      resign: init.resign ?? false,
      mustSave: false,
      destroyed: false,
      deletes: [],
      change: { lastSeen: record.lastSeen },
      createdAt: record.createdAt,
      lastSeen: record.lastSeen,
      committed: undefined,
    };
  }

  // ---- identity and state -------------------------------------------------

  /** The session id (changes after `regenerateId()` or `destroy()`). */
  get id(): string {
    return this[STATE].id;
  }

  /** The session id, as Mako names it. */
  getId(): string {
    return this[STATE].id;
  }

  /** True until the session has been stored: no cookie came in, or it was refused. */
  get isNew(): boolean {
    return this[STATE].isNew;
  }

  /** True when commit has something to write (changes, regenerate, destroy). */
  get isDirty(): boolean {
    const s = this[STATE];
    return s.mustSave || s.destroyed || s.deletes.length > 0 || !isEmptyChange(s.change);
  }

  /**
   * True when commit will set or expire the cookie because this request
   * created, regenerated or destroyed the session (not for an untouched new
   * session). Adapters that can set cookies only in some places (Next.js server
   * components) check it before committing.
   */
  get needsCookie(): boolean {
    const s = this[STATE];
    return s.isNew && (s.mustSave || s.destroyed || !isEmptyChange(s.change));
  }

  /** When the session was created (epoch ms). */
  get createdAt(): number {
    return this[STATE].createdAt;
  }

  /** Last recorded activity (epoch ms); refreshed at most every `touchAfter`. */
  get lastSeen(): number {
    return this[STATE].lastSeen;
  }

  /** When the session will expire if idle from now on (epoch ms). */
  get expiresAt(): number {
    const s = this[STATE];
    return Math.min(s.lastSeen + this.#times.idleTimeout * 1000, s.createdAt + this.#times.absoluteTimeout * 1000);
  }

  // ---- data ---------------------------------------------------------------

  /**
   * A value, or `defaultValue` when absent. Flash values readable in this request count.
   * Objects and arrays come back frozen: change a value with `put`, never in place
   * (a change in place would be saved by some stores and lost by others).
   * @example session.get('theme', 'light')
   */
  get<K extends Key<Data>>(key: K): Data[K] | undefined;
  get<K extends Key<Data>>(key: K, defaultValue: NonNullable<Data[K]>): NonNullable<Data[K]>;
  get(key: string, defaultValue?: unknown): unknown {
    const own = Object.prototype.hasOwnProperty;
    if (own.call(this.#nowValues, key)) return this.#nowValues[key];
    if (own.call(this.#flashNow, key)) return freezeJson(this.#flashNow[key] as JsonValue);
    if (own.call(this.#data, key)) return freezeJson(this.#data[key] as JsonValue);
    return defaultValue;
  }

  /**
   * Stores a value for the rest of the session. Throws `ValueError` at once for
   * anything that does not survive JSON (functions, symbols, BigInt, cycles, class
   * instances); the session keeps its own copy.
   * @example session.put('userId', user.id)
   */
  put<K extends Key<Data>>(key: K, value: Data[K]): this;
  put(key: string, value: unknown): this {
    assertKey(key);
    if (value === undefined) return this.remove(key as Key<Data>);
    const stored = freezeJson(toStorable(value, key));
    if (this.#times.schema) this.#check(key, stored);
    const change = this.#pending().change;
    setOwn(this.#ownData(), key, stored);
    setOwn((change.put ??= {}), key, stored);
    if (change.increment) delete change.increment[key];
    if (change.remove) change.remove = change.remove.filter((k) => k !== key);
    return this;
  }

  /** `put`, under Masonite's name. */
  set<K extends Key<Data>>(key: K, value: Data[K]): this {
    return this.put(key, value);
  }

  /** True when `get(key)` would find a value. */
  has(key: Key<Data>): boolean {
    const own = Object.prototype.hasOwnProperty;
    return own.call(this.#nowValues, key) || own.call(this.#flashNow, key) || own.call(this.#data, key);
  }

  /** Deletes one key: data, flash and `now` values alike. */
  remove(key: Key<Data>): this {
    assertKey(key);
    if (Object.prototype.hasOwnProperty.call(this.#data, key)) delete this.#ownData()[key];
    delete this.#flashNow[key];
    delete this.#flashNext[key];
    delete this.#nowValues[key];
    const change = this.#pending().change;
    if (change.put) delete change.put[key];
    if (change.increment) delete change.increment[key];
    if (change.flash) delete change.flash[key];
    (change.remove ??= []).includes(key) || change.remove.push(key);
    return this;
  }

  /**
   * All readable values (data, then flash, then `now` values on top), as a new
   * frozen object whose values are frozen too.
   */
  all(): Readonly<Partial<Data>> {
    const out: Record<string, JsonValue> = {};
    for (const source of [this.#data, this.#flashNow, this.#nowValues]) {
      for (const key of Object.keys(source)) setOwn(out, key, freezeJson(source[key] as JsonValue));
    }
    return Object.freeze(out) as Readonly<Partial<Data>>;
  }

  /** Drops all data and flash values; the id, the user and the CSRF tokens stay. */
  clear(): this {
    this.#data = {};
    this.#dataShared = false;
    this.#flashNow = {};
    this.#flashNext = {};
    this.#nowValues = {};
    const s = this.#pending();
    s.change = { ...keepMeta(s.change), clear: true, lastSeen: s.change.lastSeen };
    return this;
  }

  /**
   * Adds `by` to a numeric value (a missing value counts as 0) and returns the
   * result. Applied as an increment at commit, so overlapping requests add up.
   * @example const visits = session.increment('visits')
   */
  increment(key: NumericKey<Data>, by = 1): number {
    assertKey(key);
    if (!Number.isFinite(by)) throw new ValueError(`[sess] increment("${key}") needs a finite number, not ${String(by)}.`);
    const current = Object.prototype.hasOwnProperty.call(this.#data, key) ? this.#data[key] : 0;
    if (typeof current !== 'number') throw new ValueError(`[sess] cannot increment "${key}": it holds a ${typeof current}, not a number.`);
    const next = current + by;
    if (this.#times.schema) this.#check(key, next);
    setOwn(this.#ownData(), key, next);
    const change = this.#pending().change;
    if (change.put && Object.prototype.hasOwnProperty.call(change.put, key)) {
      setOwn(change.put, key, next); // a value put in this request: the new total replaces it
    } else {
      const inc = (change.increment ??= {});
      // Own keys only: "constructor" or "__proto__" must not read Object.prototype's.
      setOwn(inc, key, (Object.prototype.hasOwnProperty.call(inc, key) ? (inc[key] as number) : 0) + by);
    }
    return next;
  }

  /** `increment(key, -by)`. */
  decrement(key: NumericKey<Data>, by = 1): number {
    return this.increment(key, -by);
  }

  // ---- flash --------------------------------------------------------------

  /**
   * With a value: flash it, readable now and in the next request only.
   * With a key alone: the flash value readable in this request, or undefined.
   * @example session.flash('success', 'Saved'); // then, next request: session.flash('success')
   */
  flash<K extends Key<Data>>(key: K): Data[K] | undefined;
  flash<K extends Key<Data>>(key: K, value: Data[K]): this;
  flash(key: string, ...rest: unknown[]): unknown {
    const own = Object.prototype.hasOwnProperty;
    if (rest.length === 0) {
      if (own.call(this.#nowValues, key)) return this.#nowValues[key];
      return own.call(this.#flashNow, key) ? freezeJson(this.#flashNow[key] as JsonValue) : undefined;
    }
    assertKey(key);
    const stored = freezeJson(toStorable(rest[0], key));
    setOwn(this.#flashNow, key, stored);
    setOwn(this.#flashNext, key, stored);
    setOwn((this[STATE].change.flash ??= {}), key, stored);
    return this;
  }

  /**
   * Keeps this request's flash values for one more request: all of them, or only `keys`.
   * @example session.reflash(['error'])
   */
  reflash(keys?: Key<Data>[]): this {
    const change = this.#pending().change;
    for (const key of keys ?? Object.keys(this.#flashNow)) {
      if (!Object.prototype.hasOwnProperty.call(this.#flashNow, key)) continue;
      const value = this.#flashNow[key] as JsonValue;
      setOwn(this.#flashNext, key, value);
      setOwn((change.flash ??= {}), key, value);
    }
    return this;
  }

  /**
   * A value readable in this request only, never stored (Laravel's `now`).
   * @example session.now('notice', 'Preview only')
   */
  now<K extends Key<Data>>(key: K, value: Data[K]): this {
    assertKey(key);
    setOwn(this.#nowValues, key, freezeJson(toStorable(value, key)));
    return this;
  }

  // ---- CSRF tokens --------------------------------------------------------

  /**
   * A new CSRF token (256 bits, base64url). The session keeps the newest 20;
   * each validates once.
   */
  generateToken(): string {
    const token = generateTokenValue();
    const tokens = this.#ownTokens();
    tokens.push(token);
    if (tokens.length > TOKEN_RING_SIZE) tokens.splice(0, tokens.length - TOKEN_RING_SIZE);
    const change = this.#pending().change;
    (change.addTokens ??= []).push(token);
    if (change.addTokens.length > TOKEN_RING_SIZE) change.addTokens.shift();
    return token;
  }

  /**
   * True once for a token of the ring, then false. Never throws. For protection
   * across parallel requests use the csrf middleware (or `manager.consumeToken`),
   * which consumes the token atomically in the store before the handler runs.
   */
  validateToken(token: unknown): boolean {
    const index = this.#findToken(token);
    if (index === -1) return false;
    this.#dropToken(index);
    return true;
  }

  /** Checks the data as it would be with `key` set to `value`; throws `ValueError` when the schema refuses. */
  #check(key: string, value: JsonValue): void {
    const next: Record<string, JsonValue> = { ...this.#data };
    setOwn(next, key, value);
    checkDataNow(this.#times.schema!, next, key);
  }

  /** @internal The ring index of `token`, compared in constant time, or -1. */
  #findToken(token: unknown): number {
    if (typeof token !== 'string' || !isIdShape(token)) return -1;
    const given = Buffer.from(token);
    let found = -1;
    // Compare with every entry, no early exit, so timing says nothing about the ring.
    for (let i = 0; i < this.#tokens.length; i++) {
      const candidate = Buffer.from(this.#tokens[i] as string);
      if (candidate.length === given.length && timingSafeEqual(candidate, given) && found === -1) found = i;
    }
    return found;
  }

  #dropToken(index: number): void {
    const [token] = this.#ownTokens().splice(index, 1) as [string];
    const change = this.#pending().change;
    const added = change.addTokens?.indexOf(token) ?? -1;
    // A token made in this request never reached the store: just do not add it.
    if (added !== -1) change.addTokens!.splice(added, 1);
    else (change.consumeTokens ??= []).push(token);
  }

  /** @internal For the manager's atomic consumption: is the token in the ring? */
  hasToken(token: unknown): boolean {
    return this.#findToken(token) !== -1;
  }

  /** @internal The store consumed the token already: forget it without recording a change. */
  forgetToken(token: string): void {
    const index = this.#tokens.indexOf(token);
    if (index !== -1) this.#ownTokens().splice(index, 1);
  }

  // ---- users --------------------------------------------------------------

  /**
   * Ties the session to a user (or unties it with `null`), so that
   * `manager.listSessions(userId)` and `manager.destroySessions(userId)` find it.
   * `details` (a user agent, an IP address) are shown by `listSessions`.
   * @example session.regenerateId(); session.setUser(user.id, { userAgent: req.headers['user-agent'] ?? '' })
   */
  setUser(userId: string | null, details?: Record<string, string>): this {
    if (userId !== null) checkUserId(userId);
    const change = this.#pending().change;
    this.#user = userId;
    change.user = userId;
    if (details !== undefined) change.meta = { ...(toStorable(details, 'details') as Record<string, string>) };
    return this;
  }

  /** The user set with `setUser`, or null. */
  get user(): string | null {
    return this.#user;
  }

  // ---- lifecycle ----------------------------------------------------------

  /**
   * Gives the session a new id at commit and deletes the old record, in one
   * atomic store step: call it whenever the user's privileges change (sign-in).
   * Data, flash values, tokens and the user are dropped unless `keepData` is
   * true; values put after the call are kept. When the old record is gone by
   * commit (signed out everywhere meanwhile), nothing is written and the request
   * ends signed out.
   */
  regenerateId(keepData = false): this {
    const s = this.#pending();
    if (!keepData) {
      this.#reset();
      // A loaded session moves to the new id from a clean slate; a new one starts empty anyway.
      if (s.rotateFrom !== undefined || (s.loadedId !== undefined && !s.destroyed)) s.change.reset = true;
    }
    if (s.loadedId !== undefined && !s.destroyed) s.rotateFrom = s.loadedId;
    s.id = generateId();
    s.isNew = true;
    s.mustSave = true;
    return this;
  }

  /**
   * Deletes the session at commit and expires the cookie. Values put after the
   * call start a new session (a "signed out" flash message works).
   */
  destroy(): this {
    const s = this.#pending();
    if (s.loadedId !== undefined && !s.deletes.includes(s.loadedId)) s.deletes.push(s.loadedId);
    this.#reset();
    s.rotateFrom = undefined;
    s.id = generateId();
    s.isNew = true;
    s.mustSave = false;
    s.destroyed = true;
    return this;
  }

  /** The data, copied from the loaded record before its first change. */
  #ownData(): Record<string, JsonValue> {
    if (this.#dataShared) {
      this.#data = { ...this.#data };
      this.#dataShared = false;
    }
    return this.#data;
  }

  /** The token ring, copied from the loaded record before its first change. */
  #ownTokens(): string[] {
    if (this.#tokensShared) {
      this.#tokens = [...this.#tokens];
      this.#tokensShared = false;
    }
    return this.#tokens;
  }

  /**
   * The state, for a method about to change it. A change after commit began is
   * not saved (the record is being written): say so under NODE_DEBUG=sess.
   */
  #pending(): SessionState {
    const s = this[STATE];
    if (s.committed) debug('session %s changed after its commit began: this change is not saved', s.id.slice(0, 8));
    return s;
  }

  #reset(): void {
    const s = this[STATE];
    this.#data = {};
    this.#dataShared = false;
    this.#flashNow = {};
    this.#flashNext = {};
    this.#nowValues = {};
    this.#tokens = [];
    this.#tokensShared = false;
    this.#user = null;
    s.change = { lastSeen: s.change.lastSeen };
  }

  toJSON(): Readonly<Partial<Data>> {
    return this.all();
  }
}

function keepMeta(change: SessionChange): Partial<SessionChange> {
  const kept: Partial<SessionChange> = {};
  if (change.user !== undefined) kept.user = change.user;
  if (change.meta !== undefined) kept.meta = change.meta;
  if (change.addTokens) kept.addTokens = change.addTokens;
  if (change.consumeTokens) kept.consumeTokens = change.consumeTokens;
  return kept;
}

function checkUserId(userId: unknown): void {
  if (typeof userId !== 'string' || userId === '') throw new ValueError('[sess] setUser() needs a non-empty string user id, or null.');
  if (userId.length > MAX_USER_ID_LENGTH) {
    throw new ValueError(`[sess] setUser() got a user id of ${userId.length} characters; the limit is ${MAX_USER_ID_LENGTH}: pass a shorter stable id (a database key, or a hash of a long OAuth subject).`);
  }
  // Control characters and lone surrogates are kept differently by different
  // stores (or refused): never let the index hold a value that reads back changed.
  if (/[\u0000-\u001f\u007f]/.test(userId) || /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(userId)) {
    throw new ValueError('[sess] setUser() got a user id with control characters or broken Unicode: pass a printable id.');
  }
}

function assertKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key === '') throw new ValueError('[sess] session keys must be non-empty strings.');
}
