import type { KeyObject } from 'node:crypto';
import { debuglog } from 'node:util';
import { applyChange, emptyRecord, isEmptyChange, isSessionRecord } from './change.js';
import { type CookieOptions, type ResolvedCookieOptions, expireCookie, readCookieValues, resolveCookieOptions, serializeCookie } from './cookie.js';
import { ConfigError, SessionError, StoreError, ValueError, toStoreError } from './errors.js';
import { generateId } from './ids.js';
import { MemoryStore } from './memory-store.js';
import { MANAGER, STATE, Session, type SessionTimes } from './session.js';
import { sign, toKey, unsign } from './signature.js';
import type { DefaultData, SessionChange, SessionRecord, Store, UpdateResult } from './types.js';

const debug = debuglog('sess');

export interface SessionManagerOptions {
  /**
   * Where sessions live. Any object with the `Store` methods.
   * @default new MemoryStore() (one process only; a warning is printed in production)
   */
  store?: Store;
  /**
   * Secret(s) that sign the cookie, each at least 32 bytes. With several, the
   * first signs and all verify: put a new secret first to rotate.
   * @example secret: [process.env.SESSION_SECRET, process.env.OLD_SESSION_SECRET]
   */
  secret: string | string[];
  /** Cookie name and attributes. */
  cookie?: CookieOptions;
  /**
   * Seconds without activity after which the session ends (OWASP: 15 to 30
   * minutes for low-risk applications, 2 to 5 for high-value ones).
   * @default 1800
   */
  idleTimeout?: number;
  /**
   * Seconds after creation after which the session ends whatever the activity
   * (OWASP suggests 4 to 8 hours for an office-day application).
   * @default 28800
   */
  absoluteTimeout?: number;
  /**
   * Slide the idle timeout forward on activity. Only requests that come at least
   * `touchAfter` seconds after the last recorded one write (a small atomic touch),
   * so a busy session costs no write per request.
   * @default true
   */
  rolling?: boolean;
  /**
   * Seconds of activity that go unrecorded before a read-only request refreshes
   * the session's expiry.
   * @default min(60, idleTimeout / 10)
   */
  touchAfter?: number;
  /** Store and send a cookie for new sessions that hold nothing. @default false */
  saveUninitialized?: boolean;
  /**
   * Largest stored record, in bytes of JSON; a bigger one is refused at commit
   * with a `ValueError` and nothing is written.
   * @default 4194304 (4 MiB)
   */
  maxSize?: number;
  /**
   * Milliseconds a store call may take before it fails with a `StoreError`
   * (code `E_STORE_TIMEOUT`); 0 disables the bound.
   * @default 5000
   */
  storeTimeout?: number;
  /** The clock, in epoch milliseconds; replace it in tests. @default Date.now */
  clock?: () => number;
}

/** A session of a user, as `listSessions` shows it. */
export interface UserSessionInfo {
  /** The first 8 characters of the id: enough to tell sessions apart, useless to an attacker. */
  idPrefix: string;
  createdAt: number;
  lastSeen: number;
  expiresAt: number;
  /** Whether this is the session passed as `current`. */
  current: boolean;
  /** Details given to `setUser` (user agent, IP address). */
  details: Record<string, string>;
}

const MIN_SECRET_BYTES = 32;

/**
 * Loads and commits sessions: the one object an adapter needs.
 *
 * @example
 * const manager = new SessionManager({ secret: process.env.SESSION_SECRET!, store: new MemoryStore() });
 * const session = await manager.load(req.headers.cookie);
 * session.increment('visits');
 * const setCookie = await manager.commit(session); // send it when defined
 */
export class SessionManager<Data extends object = DefaultData> {
  readonly store: Store;
  readonly cookie: ResolvedCookieOptions;
  readonly idleTimeout: number;
  readonly absoluteTimeout: number;
  readonly rolling: boolean;
  readonly touchAfter: number;
  readonly saveUninitialized: boolean;
  readonly maxSize: number;
  readonly storeTimeout: number;
  readonly #keys: readonly KeyObject[];
  readonly #clock: () => number;
  readonly #times: SessionTimes;

  constructor(options: SessionManagerOptions) {
    if (options === null || typeof options !== 'object') throw new ConfigError('[sess] SessionManager needs options: new SessionManager({ secret, store }).');
    const secrets = Array.isArray(options.secret) ? options.secret : [options.secret];
    if (secrets.length === 0 || secrets.some((s) => typeof s !== 'string')) {
      throw new ConfigError('[sess] options.secret must be a string or a non-empty array of strings.');
    }
    for (const s of secrets) {
      if (Buffer.byteLength(s) < MIN_SECRET_BYTES) {
        throw new ConfigError(`[sess] every secret must be at least ${MIN_SECRET_BYTES} bytes long (got ${Buffer.byteLength(s)}): generate one with \`node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"\`.`);
      }
    }
    this.#keys = secrets.map(toKey);
    this.cookie = resolveCookieOptions(options.cookie);
    this.idleTimeout = positive(options.idleTimeout ?? 1800, 'idleTimeout');
    this.absoluteTimeout = positive(options.absoluteTimeout ?? 28800, 'absoluteTimeout');
    this.rolling = options.rolling ?? true;
    this.touchAfter = options.touchAfter === undefined ? Math.min(60, this.idleTimeout / 10) : nonNegative(options.touchAfter, 'touchAfter');
    this.saveUninitialized = options.saveUninitialized ?? false;
    this.maxSize = positive(options.maxSize ?? 4 * 1024 * 1024, 'maxSize');
    this.storeTimeout = nonNegative(options.storeTimeout ?? 5000, 'storeTimeout');
    this.#clock = options.clock ?? (() => Date.now()); // late-bound: fake timers replace Date.now
    this.#times = { idleTimeout: this.idleTimeout, absoluteTimeout: this.absoluteTimeout };
    if (options.store !== undefined) {
      for (const method of ['get', 'set', 'destroy', 'touch'] as const) {
        if (typeof (options.store as Partial<Store>)?.[method] !== 'function') {
          throw new ConfigError(`[sess] options.store has no ${method}() method: pass a store such as new MemoryStore().`);
        }
      }
      this.store = options.store;
    } else {
      if (process.env.NODE_ENV === 'production') {
        process.emitWarning('[sess] no store given: sessions are kept in this process only (MemoryStore). Pass a shared store in production.', 'SessWarning');
      }
      this.store = new MemoryStore();
    }
  }

  /**
   * The session for a request, from its `Cookie` header. No cookie, a bad
   * signature or an unknown id gives a fresh empty session with a new id (never
   * the one the client sent); the store is read only for a correctly signed id.
   * Throws `StoreError` when the store fails, never a silent fresh session.
   */
  async load(cookieHeader: string | null | undefined): Promise<Session<Data>> {
    const now = this.#clock();
    let verified: { id: string; secretIndex: number } | undefined;
    for (const value of readCookieValues(cookieHeader, this.cookie.name)) {
      verified = unsign(value, this.#keys);
      if (verified) break;
    }
    if (!verified) return this.#fresh(now);

    const raw = await this.#call('read the session', () => this.store.get(verified.id));
    if (raw === undefined || raw === null) return this.#fresh(now);
    if (!isSessionRecord(raw)) {
      debug('record of %s has an unknown shape: starting a new session', verified.id.slice(0, 8));
      return this.#fresh(now);
    }
    let record: SessionRecord = raw;
    if (this.#expired(record, now)) {
      debug('session %s timed out: deleting it', verified.id.slice(0, 8));
      const session = this.#fresh(now);
      session[STATE].deletes.push(verified.id);
      return session;
    }

    // Flash values for this request are taken out of the store atomically now,
    // so that of two overlapping requests exactly one shows them.
    let flash: SessionRecord['flash'] | undefined;
    const flashKeys = Object.keys(record.flash);
    if (flashKeys.length > 0) {
      const change: SessionChange = { ifExists: true, consumeFlash: flashKeys, lastSeen: now };
      const result = await this.#update(verified.id, change, this.#ttl(record.createdAt, now), raw);
      if (!result.existed) return this.#fresh(now);
      flash = result.consumedFlash;
      record = { ...record, flash: {}, lastSeen: now };
    }
    return new Session<Data>({ id: verified.id, record, isNew: false, resign: verified.secretIndex > 0, flash }, this.#times, this);
  }

  /**
   * Writes what the request changed and returns the `Set-Cookie` value to send,
   * or undefined when the cookie need not change. At most one store write (two
   * plus a delete after `regenerateId`). Calling it again returns the same result.
   */
  commit(session: Session<Data>): Promise<string | undefined> {
    const state = session[STATE];
    state.committed ??= this.#commit(session);
    return state.committed;
  }

  async #commit(session: Session<Data>): Promise<string | undefined> {
    const s = session[STATE];
    const now = this.#clock();
    const change = s.change;
    const changed = !isEmptyChange(change);

    if (s.isNew) {
      if (!changed && !s.mustSave && !(this.saveUninitialized && !s.destroyed)) {
        await this.#deleteAll(s.deletes);
        return s.destroyed ? expireCookie(this.cookie) : undefined;
      }
      // A new id, or a new session after regenerateId()/destroy(): write the new
      // record before deleting the old one, so the user is never without one.
      let base: SessionRecord | undefined;
      if (s.keepFrom !== undefined) {
        const stored = await this.#call('read the session', () => this.store.get(s.keepFrom!));
        base = isSessionRecord(stored) ? stored : s.snapshot;
      }
      const start = base ?? emptyRecord(now);
      const { record } = applyChange(start, { ...change, ifExists: false, lastSeen: now });
      this.#checkSize(record!);
      await this.#call('write the session', () => this.store.set(s.id, record!, this.#ttl(record!.createdAt, now)));
      await this.#deleteAll(s.deletes);
      s.isNew = false;
      s.createdAt = record!.createdAt;
      s.lastSeen = now;
      return this.#cookieFor(s.id);
    }

    await this.#deleteAll(s.deletes); // ids of timed-out sessions (none for a loaded one)
    const needsTouch = this.rolling && now - s.lastSeen >= this.touchAfter * 1000;
    if (!changed && !needsTouch) return s.resign ? this.#cookieFor(s.id) : undefined;

    const update: SessionChange = { ...change, ifExists: true, lastSeen: now };
    if (changed && s.snapshot) this.#checkSize(applyChange(s.snapshot, update).record!);
    const result = await this.#update(s.id, update, this.#ttl(s.createdAt, now), s.snapshot);
    if (!result.existed) {
      // Another request destroyed or regenerated this session meanwhile: do not
      // bring it back, and leave the cookie alone (it may already be the new one).
      debug('session %s vanished before commit: nothing written', s.id.slice(0, 8));
      return undefined;
    }
    s.lastSeen = now;
    return s.resign || (this.cookie.maxAge !== undefined && this.rolling) ? this.#cookieFor(s.id) : undefined;
  }

  /**
   * Whether `commit(session)` has anything to do (a write, a delete, a cookie).
   * Synchronous, so an adapter can let the response of an untouched session go
   * out at once instead of waiting a tick for a commit that does nothing.
   */
  needsCommit(session: Session<Data>): boolean {
    const s = session[STATE];
    if (s.committed || s.deletes.length > 0 || !isEmptyChange(s.change)) return true;
    if (s.isNew) return s.mustSave || s.destroyed || this.saveUninitialized;
    return s.resign || (this.rolling && this.#clock() - s.lastSeen >= this.touchAfter * 1000);
  }

  /**
   * Consumes a CSRF token atomically in the store: of two overlapping requests
   * carrying the same token, exactly one gets true. Never throws for a bad token;
   * throws `StoreError` when the store fails.
   */
  async consumeToken(session: Session<Data>, token: unknown): Promise<boolean> {
    if (!session.hasToken(token)) return false;
    const s = session[STATE];
    // Never stored yet (made in this request): the in-memory ring is the truth.
    if (s.isNew) return session.validateToken(token);
    const now = this.#clock();
    const result = await this.#update(s.id, { ifExists: true, consumeTokens: [token as string], lastSeen: now }, this.#ttl(s.createdAt, now), s.snapshot);
    session.forgetToken(token as string);
    return result.consumedTokens.includes(token as string);
  }

  /**
   * The live sessions of a user (see `session.setUser`), newest activity first.
   * Needs a store with a user index (every sess store has one).
   */
  async listSessions(userId: string, options: { current?: Session<Data> } = {}): Promise<UserSessionInfo[]> {
    const store = this.#userIndex('listSessions');
    const now = this.#clock();
    const found = await this.#call('list the sessions of a user', () => store.listByUser!(userId));
    const currentId = options.current?.id;
    return found
      .filter(({ record }) => isSessionRecord(record) && record.user === userId && !this.#expired(record, now))
      .map(({ id, record }) => ({
        idPrefix: id.slice(0, 8),
        createdAt: record.createdAt,
        lastSeen: record.lastSeen,
        expiresAt: Math.min(record.lastSeen + this.idleTimeout * 1000, record.createdAt + this.absoluteTimeout * 1000),
        current: id === currentId,
        details: { ...(record.meta ?? {}) },
      }))
      .sort((a, b) => b.lastSeen - a.lastSeen);
  }

  /**
   * Signs the user out everywhere (or everywhere but `except`): deletes their
   * sessions from the store and returns how many. In-flight requests of those
   * sessions cannot bring them back.
   */
  async destroySessions(userId: string, options: { except?: Session<Data> | string } = {}): Promise<number> {
    const store = this.#userIndex('destroySessions');
    const except = typeof options.except === 'string' ? options.except : options.except?.id;
    return this.#call('delete the sessions of a user', () => store.destroyByUser!(userId, except));
  }

  /** The `Set-Cookie` value for `id` (for adapters that set cookies themselves). */
  serializeCookie(id: string): string {
    return this.#cookieFor(id);
  }

  /** Releases the store's connections and timers, when it has any. */
  async close(): Promise<void> {
    await this.store.close?.();
  }

  // ---- internals ------------------------------------------------------------

  #fresh(now: number): Session<Data> {
    return new Session<Data>({ id: generateId(), record: emptyRecord(now), isNew: true }, this.#times, this);
  }

  #expired(record: SessionRecord, now: number): boolean {
    return now - record.lastSeen > this.idleTimeout * 1000 || now - record.createdAt > this.absoluteTimeout * 1000;
  }

  /** Seconds the store keeps the record: the idle timeout, cut by the absolute one. */
  #ttl(createdAt: number, now: number): number {
    const absoluteLeft = (createdAt + this.absoluteTimeout * 1000 - now) / 1000;
    return Math.max(1, Math.ceil(Math.min(this.idleTimeout, absoluteLeft)));
  }

  #cookieFor(id: string): string {
    return serializeCookie(this.cookie, `${id}.${sign(id, this.#keys[0] as KeyObject)}`);
  }

  #checkSize(record: SessionRecord): void {
    const size = Buffer.byteLength(JSON.stringify(record));
    if (size > this.maxSize) {
      throw new ValueError(`[sess] the session record is ${size} bytes, over the limit of ${this.maxSize}: store less in the session, or raise maxSize.`, {
        code: 'E_RECORD_TOO_LARGE',
      });
    }
  }

  async #deleteAll(ids: string[]): Promise<void> {
    for (const id of ids.splice(0)) await this.#call('delete the session', () => this.store.destroy(id));
  }

  /** Atomic when the store has `update`; otherwise get + applyChange + set. */
  #update(id: string, change: SessionChange, ttl: number, base?: SessionRecord): Promise<UpdateResult> {
    const store = this.store;
    if (store.update) return this.#call('update the session', () => store.update!(id, change, ttl, base));
    return this.#call('update the session', async () => {
      const current = await store.get(id);
      const { record, ...rest } = applyChange(isSessionRecord(current) ? current : undefined, change);
      if (record) await store.set(id, record, ttl);
      return { ...rest, written: record !== undefined };
    });
  }

  #userIndex(method: string): Store {
    if (typeof this.store.listByUser !== 'function' || typeof this.store.destroyByUser !== 'function') {
      throw new SessionError(`[sess] ${method}() needs a store with a user index (listByUser and destroyByUser); this store has none.`, { code: 'E_UNSUPPORTED' });
    }
    return this.store;
  }

  /** Runs a store call bounded by `storeTimeout`, turning every failure into a StoreError. */
  #call<T>(action: string, run: () => Promise<T>): Promise<T> {
    let promise: Promise<T>;
    try {
      promise = run();
    } catch (err) {
      return Promise.reject(toStoreError(err, action));
    }
    if (this.storeTimeout === 0) return promise.catch((err) => Promise.reject(toStoreError(err, action)));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new StoreError(`[sess] the session store did not ${action} within ${this.storeTimeout} ms: check the store's backend, or raise storeTimeout.`, { code: 'E_STORE_TIMEOUT' }));
      }, this.storeTimeout);
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err) => {
          clearTimeout(timer);
          reject(toStoreError(err, action));
        },
      );
    });
  }
}

/**
 * The manager that loaded `session`, for middleware that runs after the
 * session middleware (a CSRF check) and needs no options of its own.
 * @example const manager = managerOf(req.session)
 */
export function managerOf<Data extends object>(session: Session<Data> | undefined | null): SessionManager<Data> | undefined {
  return (session as unknown as Record<symbol, SessionManager<Data> | undefined> | null | undefined)?.[MANAGER] ?? undefined;
}

/**
 * A manager from options, or the manager itself: what every adapter's
 * `session(options | manager)` does. Duck-typed rather than `instanceof`, so a
 * manager from another copy of core (ESM next to CJS) is accepted as is.
 */
export function toManager<Data extends object>(options: SessionManagerOptions | SessionManager<Data>): SessionManager<Data> {
  const candidate = options as Partial<SessionManager<Data>> | null;
  if (typeof candidate?.load === 'function' && typeof candidate.commit === 'function') return options as SessionManager<Data>;
  return new SessionManager<Data>(options as SessionManagerOptions);
}

function positive(value: number, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new ConfigError(`[sess] options.${name} must be a positive number, not ${String(value)}.`);
  return value;
}

function nonNegative(value: number, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new ConfigError(`[sess] options.${name} must be zero or a positive number, not ${String(value)}.`);
  return value;
}
