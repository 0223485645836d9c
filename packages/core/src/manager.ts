import type { KeyObject } from 'node:crypto';
import { debuglog } from 'node:util';
import { applyChange, emptyRecord, isEmptyChange, isSessionRecord, stampChange } from './change.js';
import { type CookieOptions, type ResolvedCookieOptions, type SessionCookie, expiredCookie, readCookieValues, resolveCookieOptions, sessionCookie } from './cookie.js';
import { ConfigError, SessionError, SessionGoneError, StoreError, ValueError, toStoreError } from './errors.js';
import { type CommitEvent, type DestroyEvent, type LoadEvent, type RegenerateEvent, type StoreEvent, type TimeoutEvent, diagnostics, idPrefix } from './diagnostics.js';
import { Deadlines, MAX_TIMER_MS } from './deadlines.js';
import { generateId, isIdShape } from './ids.js';
import { MemoryStore } from './memory-store.js';
import { COOKIE_LIMIT, Sealer } from './sealed.js';
import { type StandardSchemaV1, checkData, describeIssues } from './schema.js';
import { MANAGER, STATE, Session, type SessionTimes } from './session.js';
import { Verifier, sign, toKey } from './signature.js';
import type { DefaultData, SessionChange, SessionRecord, Store, UpdateResult, VersionedRecord } from './types.js';

const debug = debuglog('sess');

export interface SessionManagerOptions<Data extends object = any> {
  /**
   * A Standard Schema validator (zod, valibot, arktype) of the session data:
   * the `Data` type is inferred from it; data that does not match at load (an
   * old shape after a deploy, a tampered store) is handled as `onInvalidData`
   * says, and `put` of a value it refuses throws `ValueError`. Describe the
   * data as a session holds it (a new session is `{}`: make fields optional).
   * The schema checks; it does not transform.
   * @example schema: z.object({ userId: z.string().optional(), visits: z.number().optional() })
   */
  schema?: StandardSchemaV1<any, Data>;
  /**
   * Data that fails the schema at load: `'fresh'` starts a new empty session
   * (the old record is deleted at commit), `'error'` throws a `ValueError`
   * (code `E_INVALID_DATA`, status 500).
   * @default 'fresh'
   */
  onInvalidData?: 'fresh' | 'error';
  /**
   * Where sessions live: any object with the `Store` methods, or `'cookie'`
   * for sessions without a store (the whole record sealed into the cookie with
   * AES-256-GCM; see the README for what that mode cannot do).
   * @default new MemoryStore() (one process only; a warning is printed in production)
   */
  store?: Store | 'cookie';
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

/** Options of `load`. */
export interface LoadOptions {
  /**
   * A CSRF token to consume in the same atomic store write that takes the
   * pending flash values, so a form POST costs one write at load; the session's
   * `csrfTokenUsed` says whether the store really had it (once, of overlapping
   * requests). The request lifecycle passes it for unsafe methods.
   */
  token?: string;
}

/** What `commitCookie` returns: the cookie to send, if any. */
export type CommitResult = SessionCookie | undefined;

const MIN_SECRET_BYTES = 32;
const STORE_METHODS = ['get', 'set', 'destroy', 'update', 'rotate'] as const;

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
  /** Checks cookie signatures, remembering the values it verified lately (see Verifier). */
  readonly #verifier: Verifier;
  /** Cookie mode (`store: 'cookie'`): records travel sealed in the cookie. */
  readonly #sealer: Sealer | undefined;
  readonly #clock: () => number;
  /** The storeTimeout of store calls (one timer for all calls in flight), or undefined when it is 0. */
  readonly #deadlines: Deadlines | undefined;
  readonly #times: SessionTimes;

  readonly schema: StandardSchemaV1<any, Data> | undefined;
  readonly onInvalidData: 'fresh' | 'error';

  constructor(options: SessionManagerOptions<Data>) {
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
    this.#verifier = new Verifier(this.#keys);
    this.cookie = resolveCookieOptions(options.cookie);
    this.idleTimeout = positive(options.idleTimeout ?? 1800, 'idleTimeout');
    this.absoluteTimeout = positive(options.absoluteTimeout ?? 28800, 'absoluteTimeout');
    this.rolling = options.rolling ?? true;
    this.touchAfter = options.touchAfter === undefined ? Math.min(60, this.idleTimeout / 10) : nonNegative(options.touchAfter, 'touchAfter');
    this.saveUninitialized = options.saveUninitialized ?? false;
    this.maxSize = positive(options.maxSize ?? 4 * 1024 * 1024, 'maxSize');
    this.storeTimeout = nonNegative(options.storeTimeout ?? 5000, 'storeTimeout');
    if (this.storeTimeout > MAX_TIMER_MS) {
      // Node runs a longer timer after 1 ms (with a warning): every store call would time out at once.
      throw new ConfigError(`[sess] options.storeTimeout must be at most ${MAX_TIMER_MS} ms (about 24.8 days, the longest timer Node keeps), not ${this.storeTimeout}; 0 disables it.`);
    }
    this.#deadlines = this.storeTimeout === 0 ? undefined : new Deadlines(this.storeTimeout);
    this.#clock = options.clock ?? (() => Date.now()); // late-bound: fake timers replace Date.now
    if (options.schema !== undefined && typeof (options.schema as Partial<StandardSchemaV1>)?.['~standard']?.validate !== 'function') {
      throw new ConfigError('[sess] options.schema must be a Standard Schema validator (zod 3.24+, valibot 1, arktype 2): it has no ["~standard"].validate().');
    }
    if (options.onInvalidData !== undefined && options.onInvalidData !== 'fresh' && options.onInvalidData !== 'error') {
      throw new ConfigError(`[sess] options.onInvalidData must be "fresh" or "error", not ${String(options.onInvalidData)}.`);
    }
    this.schema = options.schema;
    this.onInvalidData = options.onInvalidData ?? 'fresh';
    this.#times = { idleTimeout: this.idleTimeout, absoluteTimeout: this.absoluteTimeout, schema: this.schema };
    this.#sealer = options.store === 'cookie' ? new Sealer(secrets, this.cookie.name) : undefined;
    if (options.store === 'cookie') {
      this.store = storeless();
    } else if (options.store !== undefined) {
      for (const method of STORE_METHODS) {
        if (typeof (options.store as Partial<Store>)?.[method] !== 'function') {
          throw new ConfigError(
            `[sess] options.store has no ${method}() method: pass a store of the v2 contract (get, set, destroy, update, rotate) such as new MemoryStore(); a store without a native atomic update builds update() and rotate() with casStore() from @sess/core/store.`,
          );
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
   * Pending flash values (and `options.token`) are taken out of the store in one
   * atomic write, so of two overlapping requests exactly one shows them.
   * Throws `StoreError` when the store fails, never a silent fresh session.
   */
  load(cookieHeader: string | null | undefined, options?: LoadOptions): Promise<Session<Data>> {
    if (!diagnostics.load.hasSubscribers && !diagnostics.timeout.hasSubscribers) return this.#load(cookieHeader, options);
    const start = performance.now();
    const trace: Partial<LoadEvent> = { outcome: 'new' };
    return this.#load(cookieHeader, options, trace).then((session) => {
      if (diagnostics.load.hasSubscribers) {
        const s = session[STATE];
        const event: LoadEvent = { outcome: trace.outcome!, flashTaken: trace.flashTaken ?? 0, tokenUsed: s.tokenUsed, durationMs: performance.now() - start };
        if (trace.idPrefix !== undefined) event.idPrefix = trace.idPrefix;
        diagnostics.load.publish(event);
      }
      return session;
    });
  }

  async #load(cookieHeader: string | null | undefined, options: LoadOptions | undefined, trace?: Partial<LoadEvent>): Promise<Session<Data>> {
    const now = this.#clock();
    if (this.#sealer) return this.#loadSealed(this.#sealer, cookieHeader, options, now, trace);
    let verified: Readonly<{ id: string; secretIndex: number }> | undefined;
    for (const value of readCookieValues(cookieHeader, this.cookie.name)) {
      verified = this.#verifier.verify(value);
      if (verified) break;
    }
    if (!verified) return this.#fresh(now);
    const id = verified.id;
    if (trace) trace.idPrefix = idPrefix(id);

    const found = await this.#call('read the session', () => this.store.get(id), 'get', id);
    if (found == null) {
      if (trace) trace.outcome = 'unknown';
      return this.#fresh(now);
    }
    if (!isSessionRecord(found.record)) {
      debug('record of %s has an unknown shape: starting a new session', id.slice(0, 8));
      if (trace) trace.outcome = 'invalid';
      return this.#fresh(now);
    }
    const loaded: VersionedRecord = found;
    if (await this.#unusable(id, loaded.record, now, trace)) {
      const session = this.#fresh(now);
      session[STATE].deletes.push(id);
      return session;
    }

    const token = options?.token;
    const useToken = typeof token === 'string' && isIdShape(token);
    const flashKeys = Object.keys(loaded.record.flash);
    let flash: SessionRecord['flash'] | undefined;
    let tokenUsed = false;
    if (flashKeys.length > 0 || useToken) {
      const change: SessionChange = { ifExists: true, lastSeen: now };
      if (flashKeys.length > 0) change.consumeFlash = flashKeys;
      if (useToken) change.consumeTokens = [token];
      const result = await this.#update(id, change, this.#ttl(loaded.record.createdAt, now), loaded);
      if (!result.existed) {
        if (trace) trace.outcome = 'unknown';
        return this.#fresh(now);
      }
      if (flashKeys.length > 0) flash = result.consumedFlash;
      if (trace) {
        trace.outcome = 'loaded';
        trace.flashTaken = Object.keys(result.consumedFlash).length;
      }
      tokenUsed = useToken && result.consumedTokens.includes(token);
      const record = result.record ?? applyChange(loaded.record, change).record!;
      return new Session<Data>({ id, record, loaded: this.#after(result), isNew: false, resign: verified.secretIndex > 0, flash, tokenUsed }, this.#times, this);
    }
    if (trace) trace.outcome = 'loaded';
    return new Session<Data>({ id, record: loaded.record, loaded, isNew: false, resign: verified.secretIndex > 0, flash, tokenUsed }, this.#times, this);
  }

  /**
   * Writes what the request changed and returns the `Set-Cookie` value to send,
   * or undefined when the cookie need not change. At most one store write (see
   * the README's table of store calls). Calling it again returns the same result.
   */
  async commit(session: Session<Data>): Promise<string | undefined> {
    return (await this.commitCookie(session))?.header;
  }

  /**
   * `commit`, with the cookie as a structured value (`name`, `value`,
   * `options`) beside its header text, for frameworks with a cookie API.
   */
  commitCookie(session: Session<Data>): Promise<CommitResult> {
    const state = session[STATE];
    state.committed ??= diagnostics.commit.hasSubscribers || diagnostics.regenerate.hasSubscribers ? this.#traced(session, (trace) => this.#commit(session, trace)) : this.#commit(session);
    return state.committed as Promise<CommitResult>;
  }

  /** Runs a commit (or rollback) and publishes it on `sess:commit`. */
  #traced(session: Session<Data>, run: (trace: { outcome: CommitEvent['outcome'] }) => Promise<CommitResult>): Promise<CommitResult> {
    const start = performance.now();
    const trace: { outcome: CommitEvent['outcome'] } = { outcome: 'unchanged' };
    const publish = (event: Partial<CommitEvent>) => {
      if (!diagnostics.commit.hasSubscribers) return;
      diagnostics.commit.publish({ outcome: trace.outcome, idPrefix: idPrefix(session[STATE].id), durationMs: performance.now() - start, ...event } satisfies CommitEvent);
    };
    return run(trace).then(
      (cookie) => {
        publish({});
        return cookie;
      },
      (err: { code?: string }) => {
        publish({ outcome: err?.code === 'E_SESSION_GONE' ? 'gone' : 'failed', code: err?.code });
        throw err;
      },
    );
  }

  /**
   * Ends the request without writing the session's changes (a failed request:
   * see the lifecycle's `commitOnError`). What was written at load stays
   * written (flash values taken, a CSRF token used); timed-out records are still
   * deleted, and an old-secret cookie is still re-signed.
   */
  rollback(session: Session<Data>): Promise<CommitResult> {
    const s = session[STATE];
    const run = async (trace?: { outcome: CommitEvent['outcome'] }) => {
      if (trace) trace.outcome = 'rolled-back';
      if (this.#sealer) return undefined; // the browser keeps the cookie it sent
      await this.#deleteAll(s.deletes.filter((id) => id !== s.loadedId), s.loadedId);
      return !s.isNew && s.loadedId !== undefined && s.resign && s.id === s.loadedId ? this.#cookie(s.id) : undefined;
    };
    s.committed ??= diagnostics.commit.hasSubscribers ? this.#traced(session, run) : run();
    return s.committed as Promise<CommitResult>;
  }

  async #commit(session: Session<Data>, trace?: { outcome: CommitEvent['outcome'] }): Promise<CommitResult> {
    const s = session[STATE];
    const now = this.#clock();
    const change = s.change;
    const changed = !isEmptyChange(change);
    if (this.#sealer) return this.#commitSealed(this.#sealer, s, now, changed, trace);

    if (s.rotateFrom !== undefined) {
      // regenerateId() of a loaded session: one atomic move in the store.
      const from = s.rotateFrom;
      const createdAt = change.reset ? now : (s.loaded?.record.createdAt ?? s.createdAt);
      const move = stampChange(change, true, now);
      if (s.loaded) this.#checkSize(applyChange(s.loaded.record, move).record!);
      const result = await this.#call('regenerate the session', () => this.store.rotate(from, s.id, move, this.#ttl(createdAt, now), s.loaded), 'rotate', from);
      await this.#deleteAll(s.deletes, s.loadedId);
      if (diagnostics.regenerate.hasSubscribers) {
        const outcome = result.existed ? 'rotated' : result.moved ? 'moved' : 'revoked';
        diagnostics.regenerate.publish({ fromPrefix: idPrefix(from), toPrefix: idPrefix(s.id), outcome } satisfies RegenerateEvent);
      }
      if (trace) trace.outcome = result.existed ? 'rotated' : 'destroyed';
      if (!result.existed) {
        // Regenerated by an overlapping request (another tab signing in): its cookie is the
        // browser's now; say so rather than expire it.
        if (result.moved) throw new SessionGoneError();
        // Signed out meanwhile (destroySessions, another tab): never bring it back.
        debug('session %s was gone before its regenerate: the request ends signed out', from.slice(0, 8));
        s.destroyed = true;
        return expiredCookie(this.cookie);
      }
      s.rotateFrom = undefined;
      s.loadedId = s.id;
      s.isNew = false;
      this.#moved(s, result);
      return this.#cookie(s.id);
    }

    if (s.isNew) {
      if (!changed && !s.mustSave && !(this.saveUninitialized && !s.destroyed)) {
        await this.#deleteAll(s.deletes, s.loadedId);
        if (trace && s.destroyed) trace.outcome = 'destroyed';
        return s.destroyed ? expiredCookie(this.cookie) : undefined;
      }
      // A new id, or a new session after destroy(): write it, then delete the old one.
      const { record } = applyChange(undefined, stampChange(change, false, now));
      this.#checkSize(record!);
      await this.#call('write the session', () => this.store.set(s.id, record!, this.#ttl(record!.createdAt, now)), 'set', s.id);
      await this.#deleteAll(s.deletes, s.loadedId);
      if (trace) trace.outcome = 'created';
      s.isNew = false;
      s.loadedId = s.id;
      s.createdAt = record!.createdAt;
      s.lastSeen = now;
      return this.#cookie(s.id);
    }

    if (s.deletes.length > 0) await this.#deleteAll(s.deletes, s.loadedId); // ids of timed-out sessions (none for a loaded one)
    const needsTouch = this.rolling && now - s.lastSeen >= this.touchAfter * 1000;
    if (!changed && !needsTouch) return s.resign ? this.#cookie(s.id) : undefined;

    const update = stampChange(change, true, now);
    if (changed && s.loaded) this.#checkSize(applyChange(s.loaded.record, update).record!);
    const result = await this.#update(s.id, update, this.#ttl(s.createdAt, now), s.loaded);
    if (!result.existed) {
      // Another request destroyed or regenerated this session meanwhile: never
      // bring it back. Signed out: the change goes with the session, quietly. Moved
      // to a new id (regenerated): the change is lost, so say so (409), unless it
      // was only bookkeeping (a rolling refresh, a used token).
      debug('session %s vanished before commit (%s): nothing written', s.id.slice(0, 8), result.moved ? 'regenerated' : 'destroyed');
      if (result.moved && changed && hasUserChange(update)) throw new SessionGoneError();
      if (trace) trace.outcome = 'gone';
      return undefined;
    }
    if (trace) trace.outcome = 'written';
    this.#moved(s, result);
    return s.resign || (this.cookie.maxAge !== undefined && this.rolling) ? this.#cookie(s.id) : undefined;
  }

  /**
   * Whether `commit(session)` has anything to do (a write, a delete, a cookie).
   * Synchronous, so an adapter can let the response of an untouched session go
   * out at once instead of waiting a tick for a commit that does nothing.
   */
  needsCommit(session: Session<Data>): boolean {
    const s = session[STATE];
    if (s.committed || s.deletes.length > 0 || s.rotateFrom !== undefined || !isEmptyChange(s.change)) return true;
    if (s.isNew) return s.mustSave || s.destroyed || this.saveUninitialized;
    return s.resign || (this.rolling && this.#clock() - s.lastSeen >= this.touchAfter * 1000);
  }

  /**
   * Consumes a CSRF token atomically in the store: of two overlapping requests
   * carrying the same token, exactly one gets true. Never throws for a bad token;
   * throws `StoreError` when the store fails. (The request lifecycle consumes
   * the token at load instead, in the same write as the flash values.)
   */
  async consumeToken(session: Session<Data>, token: unknown): Promise<boolean> {
    if (!session.hasToken(token)) return false;
    const s = session[STATE];
    // Never stored yet (made in this request), or cookie mode: the in-memory ring is the truth.
    if (s.isNew || this.#sealer) return session.validateToken(token);
    const now = this.#clock();
    const change: SessionChange = { ifExists: true, consumeTokens: [token as string], lastSeen: now };
    const result = await this.#update(s.id, change, this.#ttl(s.createdAt, now), s.loaded);
    session.forgetToken(token as string);
    if (result.written) this.#moved(s, result);
    return result.consumedTokens.includes(token as string);
  }

  /**
   * The live sessions of a user (see `session.setUser`), newest activity first.
   * Needs a store with a user index (every sess store has one).
   */
  async listSessions(userId: string, options: { current?: Session<Data> } = {}): Promise<UserSessionInfo[]> {
    const store = this.#userIndex('listSessions');
    const now = this.#clock();
    const found = await this.#call('list the sessions of a user', () => store.listByUser!(userId), 'listByUser');
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
    return this.#call('delete the sessions of a user', () => store.destroyByUser!(userId, except), 'destroyByUser');
  }

  /** The `Set-Cookie` value for `id` (for adapters that set cookies themselves). */
  serializeCookie(id: string): string {
    return this.#cookie(id).header;
  }

  /** The session cookie for `id`, structured and as header text. */
  cookieFor(id: string): SessionCookie {
    return this.#cookie(id);
  }

  /** The cookie that makes the browser drop the session cookie. */
  expiredCookie(): SessionCookie {
    return expiredCookie(this.cookie);
  }

  /** Releases the store's connections and timers, when it has any. */
  async close(): Promise<void> {
    await this.store.close?.();
  }

  // ---- internals ------------------------------------------------------------

  /**
   * Whether a loaded record must not be used: timed out, or data the schema
   * refuses (which throws instead under `onInvalidData: 'error'`).
   */
  async #unusable(id: string, record: SessionRecord, now: number, trace?: Partial<LoadEvent>): Promise<boolean> {
    if (this.#expired(record, now)) {
      debug('session %s timed out: ending it', idPrefix(id));
      if (trace) trace.outcome = 'expired';
      if (diagnostics.timeout.hasSubscribers) {
        const kind = now - record.createdAt > this.absoluteTimeout * 1000 ? 'absolute' : 'idle';
        diagnostics.timeout.publish({ idPrefix: idPrefix(id), kind } satisfies TimeoutEvent);
      }
      return true;
    }
    const issues = this.schema && (await checkData(this.schema, record.data));
    if (!issues) return false;
    if (this.onInvalidData === 'error') {
      throw new ValueError(`[sess] the data of session ${idPrefix(id)}… does not match the session schema: ${describeIssues(issues)}.`, { code: 'E_INVALID_DATA' });
    }
    debug('data of session %s does not match the schema: starting a new session', idPrefix(id));
    if (trace) trace.outcome = 'invalid';
    return true;
  }

  /** Cookie mode: the record comes out of the sealed cookie; nothing is read. */
  async #loadSealed(sealer: Sealer, cookieHeader: string | null | undefined, options: LoadOptions | undefined, now: number, trace?: Partial<LoadEvent>): Promise<Session<Data>> {
    let opened: ReturnType<Sealer['unseal']>;
    for (const value of readCookieValues(cookieHeader, this.cookie.name)) {
      opened = sealer.unseal(value);
      if (opened) break;
    }
    if (!opened) return this.#fresh(now);
    const { id, record } = opened;
    if (trace) trace.idPrefix = idPrefix(id);
    if (await this.#unusable(id, record, now, trace)) return this.#fresh(now);
    const flashKeys = Object.keys(record.flash);
    const session = new Session<Data>(
      { id, record, loaded: { record, version: 'sealed' }, isNew: false, resign: opened.secretIndex > 0, flash: flashKeys.length > 0 ? { ...record.flash } : undefined },
      this.#times,
      this,
    );
    const s = session[STATE];
    // Flash values shown now leave the record with the next cookie.
    if (flashKeys.length > 0) s.change.consumeFlash = flashKeys;
    const token = options?.token;
    if (typeof token === 'string') s.tokenUsed = session.validateToken(token);
    if (trace) {
      trace.outcome = 'loaded';
      trace.flashTaken = flashKeys.length;
    }
    return session;
  }

  /** Cookie mode: the new record is sealed into the cookie; nothing is written. */
  async #commitSealed(sealer: Sealer, s: Session<Data>[typeof STATE], now: number, changed: boolean, trace?: { outcome: CommitEvent['outcome'] }): Promise<CommitResult> {
    let base: SessionRecord | undefined;
    if (s.rotateFrom !== undefined || !s.isNew) base = s.loaded?.record;
    if (s.isNew && s.rotateFrom === undefined) {
      if (!changed && !s.mustSave && !(this.saveUninitialized && !s.destroyed)) {
        if (trace && s.destroyed) trace.outcome = 'destroyed';
        return s.destroyed ? expiredCookie(this.cookie) : undefined;
      }
    } else if (!s.isNew) {
      const needsTouch = this.rolling && now - s.lastSeen >= this.touchAfter * 1000;
      if (!changed && !needsTouch && !s.resign) return undefined;
    }
    const { record } = applyChange(base, { ...s.change, ifExists: false, lastSeen: now });
    const cookie = sessionCookie(this.cookie, sealer.seal(s.id, record!));
    const size = Buffer.byteLength(cookie.header);
    if (size > COOKIE_LIMIT) {
      throw new ValueError(`[sess] the sealed session cookie is ${size} bytes, over the ${COOKIE_LIMIT} bytes browsers keep: store less in a cookie session, or use a store.`, { code: 'E_RECORD_TOO_LARGE' });
    }
    if (trace) trace.outcome = s.rotateFrom !== undefined ? 'rotated' : s.isNew ? 'created' : 'written';
    s.rotateFrom = undefined;
    s.isNew = false;
    s.loadedId = s.id;
    s.loaded = { record: record!, version: 'sealed' };
    s.createdAt = record!.createdAt;
    s.lastSeen = now;
    return cookie;
  }

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

  #cookie(id: string): SessionCookie {
    return sessionCookie(this.cookie, `${id}.${sign(id, this.#keys[0] as KeyObject)}`);
  }

  /**
   * What a write returned, as the record and version the request now holds (a
   * store that returns no version leaves the next write without the fast path).
   */
  #after(result: UpdateResult): VersionedRecord | undefined {
    return result.record !== undefined && result.version !== undefined ? { record: result.record, version: result.version } : undefined;
  }

  /** A write of the session succeeded: hold its result for the next write, move the clock. */
  #moved(s: Session<Data>[typeof STATE], result: UpdateResult): void {
    s.loaded = this.#after(result);
    if (result.record) {
      s.createdAt = result.record.createdAt;
      s.lastSeen = result.record.lastSeen;
    }
  }

  #checkSize(record: SessionRecord): void {
    const size = Buffer.byteLength(JSON.stringify(record));
    if (size > this.maxSize) {
      throw new ValueError(`[sess] the session record is ${size} bytes, over the limit of ${this.maxSize}: store less in the session, or raise maxSize.`, {
        code: 'E_RECORD_TOO_LARGE',
      });
    }
  }

  async #deleteAll(ids: string[], loadedId?: string): Promise<void> {
    for (const id of ids.splice(0)) {
      await this.#call('delete the session', () => this.store.destroy(id), 'destroy', id);
      if (diagnostics.destroy.hasSubscribers) diagnostics.destroy.publish({ idPrefix: idPrefix(id), reason: id === loadedId ? 'destroy' : 'timeout' } satisfies DestroyEvent);
    }
  }

  #update(id: string, change: SessionChange, ttl: number, expected?: VersionedRecord): Promise<UpdateResult> {
    return this.#call('update the session', () => this.store.update(id, change, ttl, expected), 'update', id);
  }

  #userIndex(method: string): Store {
    if (this.#sealer) {
      throw new SessionError(`[sess] ${method}() is not possible with store: 'cookie': the sessions live only in the browsers' cookies, so the server can neither list nor revoke them. Use a store (RedisStore, KnexStore, FileStore) for per-user sign-out.`, { code: 'E_UNSUPPORTED' });
    }
    if (typeof this.store.listByUser !== 'function' || typeof this.store.destroyByUser !== 'function') {
      throw new SessionError(`[sess] ${method}() needs a store with a user index (listByUser and destroyByUser); this store has none.`, { code: 'E_UNSUPPORTED' });
    }
    return this.store;
  }

  /**
   * Runs a store call bounded by `storeTimeout`, turning every failure into a
   * StoreError, and publishes it on `sess:store` when someone listens.
   */
  #call<T>(action: string, run: () => Promise<T>, method: StoreEvent['method'], id?: string): Promise<T> {
    if (!diagnostics.store.hasSubscribers) return this.#bounded(action, run);
    const start = performance.now();
    const publish = (outcome: StoreEvent['outcome'], code?: string) => {
      const event: StoreEvent = { method, outcome, durationMs: performance.now() - start };
      if (id !== undefined) event.idPrefix = idPrefix(id);
      if (code !== undefined) event.code = code;
      diagnostics.store.publish(event);
    };
    return this.#bounded(action, run).then(
      (value) => {
        publish('ok');
        return value;
      },
      (err: StoreError) => {
        publish(err.code === 'E_STORE_TIMEOUT' ? 'timeout' : 'error', err.code);
        throw err;
      },
    );
  }

  #bounded<T>(action: string, run: () => Promise<T>): Promise<T> {
    let promise: Promise<T>;
    try {
      promise = run();
    } catch (err) {
      return Promise.reject(toStoreError(err, action));
    }
    const deadlines = this.#deadlines;
    if (deadlines === undefined) return promise.catch((err) => Promise.reject(toStoreError(err, action)));
    return new Promise<T>((resolve, reject) => {
      const deadline = deadlines.start(() => {
        reject(new StoreError(`[sess] the session store did not ${action} within ${this.storeTimeout} ms: check the store's backend, or raise storeTimeout.`, { code: 'E_STORE_TIMEOUT' }));
      });
      promise.then(
        (value) => {
          deadlines.settle(deadline);
          resolve(value);
        },
        (err) => {
          deadlines.settle(deadline);
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

/** The store of cookie mode: there is none, and saying so beats a silent no-op. */
function storeless(): Store {
  const refuse = () =>
    Promise.reject(new SessionError("[sess] this manager keeps sessions in cookies (store: 'cookie'): there is no store to call.", { code: 'E_UNSUPPORTED' }));
  return { get: refuse, set: refuse, destroy: refuse, update: refuse, rotate: refuse };
}

/** Whether a change carries something the application asked for, not only bookkeeping (a used token, flash taken). */
function hasUserChange(change: SessionChange): boolean {
  return !isEmptyChange({ ...change, consumeFlash: undefined, consumeTokens: undefined });
}

function positive(value: number, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new ConfigError(`[sess] options.${name} must be a positive number, not ${String(value)}.`);
  return value;
}

function nonNegative(value: number, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new ConfigError(`[sess] options.${name} must be zero or a positive number, not ${String(value)}.`);
  return value;
}
