import { type KeyObject, createHmac, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { debuglog } from 'node:util';
import { ConfigError, StoreError, isSessionRecord, readCookieValues, toStoreError } from '@sess/core';
import type { JsonValue, SessionManager, SessionRecord, VersionedRecord } from '@sess/core';
import { type OldCookieOptions, expireOldCookie, oldIdsIn, oldKey, rewriteCookieHeader } from './old-cookie.js';
import type { ClaimedSession, OldSessionSource } from './sources.js';

const debug = debuglog('sess:migrate');

/** Label of the key that derives a migrated session's id from the old id. */
const ID_LABEL = 'sess-migrate-express-session';

export interface ExpressSessionMigratorOptions {
  /**
   * The sess manager the app now uses (`session(...).manager` of
   * `@sess/express`, or a `SessionManager`): its store receives the migrated
   * sessions, its cookie carries them, its timeouts bound them.
   */
  manager: SessionManager<any>;
  /**
   * The express-session `secret` (or array of secrets) of the old app. A
   * cookie that none of them signed is never trusted: the old store is not
   * even read for it.
   */
  secret: string | string[];
  /** Where the old sessions are: `connectRedisSource`, `connectPgSimpleSource`, `connectSessionKnexSource`, `sessionFileStoreSource`, or your own. */
  source: OldSessionSource;
  /** The old cookie: its name, and the path and domain it was set with (to expire it). @default { name: 'connect.sid', path: '/' } */
  cookie?: OldCookieOptions;
  /**
   * End of the migration window (a Date or epoch ms). After it an old cookie
   * is only expired, without reading the old store. Leave unset and remove the
   * middleware when the window is over.
   */
  until?: Date | number;
  /**
   * The session key where connect-flash kept its pending messages. Its
   * entries become sess flash values (each the array of messages, as
   * connect-flash kept them), readable with `session.flash(type)` in the next
   * request. `false` keeps the key as plain data.
   * @default 'flash'
   */
  flashKey?: string | false;
  /**
   * The user a session belongs to, from its data, for `manager.listSessions`
   * and `manager.destroySessions` (sess's `session.setUser`).
   * @example user: (data) => (data.passport as { user?: string } | undefined)?.user
   */
  user?: (data: Record<string, JsonValue>) => string | null | undefined;
  /**
   * Reshapes the old data before it is stored (rename keys, drop some). It
   * gets the data without `cookie` and without the flash key, and returns the
   * data to keep; the result is stored as JSON (Dates become strings).
   */
  transform?: (data: Record<string, unknown>) => Record<string, unknown>;
  /**
   * Seconds after a migration during which a request that still carries the
   * same old cookie (an overlapping request, another tab) is handed the
   * migrated session instead of nothing. After it the old cookie is dead.
   * @default 60
   */
  handoverWindow?: number;
  /**
   * Milliseconds a request whose old record was just taken by an overlapping
   * request waits for that request to finish writing the sess session.
   * @default 250
   */
  handoverWait?: number;
}

/** What `load` did with a request's cookies. */
export type MigrationOutcome =
  /** No old cookie: nothing done. */
  | 'none'
  /** A valid sess cookie came too: the old cookie is left alone, the sess session wins. */
  | 'skipped'
  /** Old cookie(s) not signed with the old secret: not trusted, the old store not read. */
  | 'refused'
  /** This request moved the old session to a new sess session. */
  | 'migrated'
  /** An overlapping request (or another tab) migrated it: this one gets the same sess session. */
  | 'handed-over'
  /** Validly signed, but no (unexpired, non-empty) record: the old cookie is expired. */
  | 'gone'
  /** After `until`: the old cookie is expired without reading the old store. */
  | 'closed'
  /**
   * The converted data fails the manager's `schema`: the old record is put
   * back and the old cookie kept (fix `transform`, and the next request
   * migrates it); this request gets a fresh session.
   */
  | 'invalid';

export interface MigrationResult {
  /** The `Cookie` header to give the sess middleware (`manager.load`); undefined when no cookie is left. */
  cookieHeader: string | undefined;
  /** `Set-Cookie` values to add to the response: the sess cookie, and the old cookie expired. */
  setCookies: string[];
  outcome: MigrationOutcome;
  /** For `invalid`: the schema's issues (paths and messages, no values). */
  issues?: string[];
}

/**
 * Turns an express-session cookie into a sess cookie before the sess
 * middleware loads the session. A request with a validly signed `connect.sid`
 * and no valid sess cookie has its old record taken out of the old store
 * (atomically: of overlapping requests exactly one gets it), converted, and
 * written as a new sess session; the request then goes on with the sess
 * cookie in its `Cookie` header, and the response sets it and expires the old
 * one.
 *
 * Overlapping requests: the new id is derived from the old id with a key made
 * from the sess secret (HMAC), so a request that lost the race to the old
 * record finds the migrated session under the same id and uses it: one sess
 * session, never two with the data copied.
 *
 * @example
 * const sessions = session({ secret: process.env.SESSION_SECRET!, store });
 * const migrator = new ExpressSessionMigrator({ manager: sessions.manager, secret: process.env.OLD_SESSION_SECRET!, source: connectRedisSource({ client: redis }) });
 * app.use(migrationMiddleware(migrator), sessions);
 */
export class ExpressSessionMigrator {
  readonly manager: SessionManager<any>;
  readonly source: OldSessionSource;
  readonly oldCookieName: string;
  readonly handoverWindow: number;
  readonly handoverWait: number;
  readonly #keys: readonly KeyObject[];
  readonly #idKey: Buffer;
  readonly #expireOld: string;
  readonly #until: number | undefined;
  readonly #flashKey: string | false;
  readonly #user: ExpressSessionMigratorOptions['user'];
  readonly #transform: ExpressSessionMigratorOptions['transform'];
  readonly #inflight = new Map<string, Promise<MigrateResult>>();

  constructor(options: ExpressSessionMigratorOptions) {
    if (options === null || typeof options !== 'object') throw new ConfigError('[sess] ExpressSessionMigrator needs options: { manager, secret, source }.');
    const manager = options.manager;
    if (!manager || typeof manager.cookieFor !== 'function' || !manager.store) {
      throw new ConfigError('[sess] options.manager must be the sess SessionManager: session(...).manager from @sess/express, or new SessionManager(...).');
    }
    const secrets = Array.isArray(options.secret) ? options.secret : [options.secret];
    if (secrets.length === 0 || secrets.some((s) => typeof s !== 'string' || s === '')) {
      throw new ConfigError('[sess] options.secret must be the old express-session secret: a non-empty string or array of strings.');
    }
    if (!options.source || typeof options.source.claim !== 'function') {
      throw new ConfigError('[sess] options.source must read the old store: connectRedisSource(...), connectPgSimpleSource(...), connectSessionKnexSource(...) or sessionFileStoreSource(...).');
    }
    const cookie = { name: 'connect.sid', path: '/', ...options.cookie };
    if (cookie.name === manager.cookie.name) {
      throw new ConfigError(`[sess] the old cookie and the sess cookie are both called "${cookie.name}": give sess another cookie name during the migration window.`);
    }
    const until = options.until instanceof Date ? options.until.getTime() : options.until;
    if (until !== undefined && !Number.isFinite(until)) throw new ConfigError('[sess] options.until must be a Date or epoch milliseconds.');
    this.manager = manager;
    this.source = options.source;
    this.oldCookieName = cookie.name;
    this.handoverWindow = nonNegative(options.handoverWindow ?? 60, 'handoverWindow');
    this.handoverWait = nonNegative(options.handoverWait ?? 250, 'handoverWait');
    this.#keys = secrets.map(oldKey);
    // HMAC of a fixed label under the current sess secret: a key only the app has.
    const labelCookie = manager.cookieFor(ID_LABEL).value;
    this.#idKey = Buffer.from(labelCookie.slice(ID_LABEL.length + 1), 'base64url');
    this.#expireOld = expireOldCookie(cookie);
    this.#until = until;
    this.#flashKey = options.flashKey ?? 'flash';
    this.#user = options.user;
    this.#transform = options.transform;
  }

  /**
   * The `Cookie` header for the sess middleware, and the `Set-Cookie` values
   * for the response. Reads the old store only for a cookie signed with the
   * old secret. Throws a `StoreError` when the old or the new store fails
   * (the old record is put back when the new one could not be written).
   */
  async load(cookieHeader: string | null | undefined): Promise<MigrationResult> {
    const header = typeof cookieHeader === 'string' && cookieHeader !== '' ? cookieHeader : undefined;
    const unchanged = (outcome: MigrationOutcome): MigrationResult => ({ cookieHeader: header, setCookies: [], outcome });
    if (readCookieValues(header, this.oldCookieName).length === 0) return unchanged('none');
    if (this.#hasSessCookie(header)) return unchanged('skipped');
    const { ids } = oldIdsIn(header, this.oldCookieName, this.#keys);
    if (ids.length === 0) {
      debug('old cookie not signed with the old secret: not trusted');
      return unchanged('refused');
    }
    const withoutOld = rewriteCookieHeader(header, [this.oldCookieName]);
    if (this.#until !== undefined && Date.now() >= this.#until) {
      return { cookieHeader: withoutOld, setCookies: [this.#expireOld], outcome: 'closed' };
    }
    for (const oldId of ids) {
      const found = await this.#once(oldId);
      if (found === undefined) continue;
      if (found.outcome === 'invalid') return { cookieHeader: header, setCookies: [], outcome: 'invalid', issues: found.issues };
      const sessCookie = this.manager.cookieFor(found.id);
      return {
        cookieHeader: rewriteCookieHeader(header, [this.oldCookieName, sessCookie.name], `${sessCookie.name}=${sessCookie.value}`),
        setCookies: [sessCookie.header, this.#expireOld],
        outcome: found.outcome,
      };
    }
    return { cookieHeader: withoutOld, setCookies: [this.#expireOld], outcome: 'gone' };
  }

  /** The sess id a given old id migrates to (for tests and support tooling). */
  sessIdFor(oldId: string): string {
    return createHmac('sha256', this.#idKey).update(oldId).digest('base64url');
  }

  /**
   * `#migrate`, shared by the overlapping requests of this process: the
   * first runs it, the others take its result as a hand-over (requests on
   * other processes find the session in the store instead).
   */
  async #once(oldId: string): Promise<MigrateResult> {
    const running = this.#inflight.get(oldId);
    if (running !== undefined) {
      const found = await running;
      return found?.outcome === 'migrated' ? { id: found.id, outcome: 'handed-over' } : found;
    }
    const promise = this.#migrate(oldId);
    this.#inflight.set(oldId, promise);
    try {
      return await promise;
    } finally {
      this.#inflight.delete(oldId);
    }
  }

  async #migrate(oldId: string): Promise<MigrateResult> {
    const id = this.sessIdFor(oldId);
    const store = this.manager.store;
    const claimed = await this.#bounded(`take the express-session record from ${this.source.kind}`, () => this.source.claim(oldId));
    if (claimed !== undefined) {
      const now = Date.now();
      const converted = this.#convert(claimed, now);
      if (converted === undefined) {
        debug('old session %s expired or empty: nothing to migrate', oldId.slice(0, 6));
        return undefined;
      }
      const issues = await this.#check(converted.record.data);
      if (issues !== undefined) {
        debug('old session %s does not match the schema: put back (%s)', oldId.slice(0, 6), issues.join('; '));
        await this.#bounded(`put the express-session record back into ${this.source.kind}`, async () => this.source.restore?.(oldId, claimed));
        return { outcome: 'invalid', issues };
      }
      try {
        await this.#bounded('write the migrated session', () => store.set(id, converted.record, converted.ttl));
      } catch (err) {
        // Never lose a signed-in user to a failing store: put the old record back.
        await this.source.restore?.(oldId, claimed).catch((restoreErr: unknown) => debug('restoring %s failed: %s', oldId.slice(0, 6), String(restoreErr)));
        throw err;
      }
      debug('migrated %s to %s', oldId.slice(0, 6), id.slice(0, 8));
      return { id, outcome: 'migrated' };
    }
    // No record: another request took it (it may still be writing), it was
    // migrated earlier (another tab), or it is simply gone.
    const deadline = Date.now() + this.handoverWait;
    for (;;) {
      const found = await this.#bounded('read the migrated session', () => store.get(id));
      if (found !== undefined) return this.#handedOver(found) ? { id, outcome: 'handed-over' } : undefined;
      if (Date.now() >= deadline) return undefined;
      await sleep(Math.min(20, Math.max(1, deadline - Date.now())));
    }
  }

  /** The manager's `schema` issues for migrated data, or undefined when it passes (or there is no schema). */
  async #check(data: Record<string, JsonValue>): Promise<string[] | undefined> {
    const schema = this.manager.schema;
    if (schema === undefined) return undefined;
    const result = await schema['~standard'].validate(data);
    if (!result.issues) return undefined;
    return result.issues.map((issue) => {
      const path = (issue.path ?? []).map((p) => String(typeof p === 'object' && p !== null ? p.key : p)).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    });
  }

  /** Whether a migrated record may be given to a request that still has the old cookie. */
  #handedOver(found: VersionedRecord): boolean {
    if (!isSessionRecord(found.record)) return false;
    const at = Number(found.record.meta?.migratedAt);
    return Number.isFinite(at) && Date.now() - at <= this.handoverWindow * 1000;
  }

  /** The sess record for an old session, or undefined when it is expired or holds nothing. */
  #convert(claimed: ClaimedSession, now: number): { record: SessionRecord; ttl: number } | undefined {
    const { cookie, ...rest } = claimed.session;
    const expiresAt = claimed.expiresAt ?? cookieExpiry(cookie);
    if (expiresAt !== undefined && expiresAt <= now) return undefined;

    const flash: Record<string, JsonValue> = {};
    if (this.#flashKey !== false && Object.prototype.hasOwnProperty.call(rest, this.#flashKey)) {
      const pending = rest[this.#flashKey];
      if (pending !== null && typeof pending === 'object' && !Array.isArray(pending)) {
        delete rest[this.#flashKey];
        for (const [type, messages] of Object.entries(toJson(pending) as Record<string, JsonValue>)) {
          if (Array.isArray(messages) ? messages.length > 0 : messages !== null && messages !== undefined) flash[type] = messages;
        }
      }
    }
    const shaped = this.#transform ? this.#transform(rest) : rest;
    if (shaped === null || typeof shaped !== 'object' || Array.isArray(shaped)) throw new TypeError('[sess] options.transform must return an object of session data.');
    const data = toJson(shaped) as Record<string, JsonValue>;
    const user = this.#user?.(data) ?? null;
    if (Object.keys(data).length === 0 && Object.keys(flash).length === 0 && user === null && !this.manager.saveUninitialized) return undefined;

    // The remaining lifetime never reaches past the old expiry: the absolute
    // timeout ends there at the latest (createdAt), and without activity the
    // idle timeout ends there too (lastSeen). Activity slides the idle
    // timeout as for any sess session, up to that end.
    const idle = this.manager.idleTimeout * 1000;
    const absolute = this.manager.absoluteTimeout * 1000;
    let createdAt = now;
    let lastSeen = now;
    if (expiresAt !== undefined) {
      createdAt = Math.min(now, expiresAt - absolute);
      lastSeen = Math.max(createdAt, Math.min(now, expiresAt - idle));
    }
    const ends = Math.min(lastSeen + idle, createdAt + absolute);
    const record: SessionRecord = { data, flash, tokens: [], createdAt, lastSeen, meta: { migratedAt: String(now) } };
    if (typeof user === 'string' && user !== '') record.user = user;
    return { record, ttl: Math.max(1, Math.ceil((ends - now) / 1000)) };
  }

  /** Whether the header carries a sess cookie signed with the current sess secret. */
  #hasSessCookie(header: string | undefined): boolean {
    for (const value of readCookieValues(header, this.manager.cookie.name)) {
      if (value.length !== 87 || value[43] !== '.') continue;
      const expected = Buffer.from(this.manager.cookieFor(value.slice(0, 43)).value);
      const given = Buffer.from(value);
      if (expected.length === given.length && timingSafeEqual(expected, given)) return true;
    }
    return false;
  }

  /** A store call bounded by the manager's `storeTimeout`, failing as a `StoreError`. */
  #bounded<T>(action: string, run: () => Promise<T>): Promise<T> {
    const limit = this.manager.storeTimeout;
    const failure = (err: unknown) => {
      // A manager in cookie mode (store: 'cookie') has no store to migrate into.
      if ((err as { code?: unknown } | null)?.code === 'E_UNSUPPORTED' && !(err instanceof StoreError)) {
        return new ConfigError("[sess] the migrator writes the migrated sessions to the sess manager's store, and this manager has none (store: 'cookie'): migrate into a store-backed manager (RedisStore, KnexStore, FileStore).", { cause: err });
      }
      return toStoreError(err, action);
    };
    let promise: Promise<T>;
    try {
      promise = run();
    } catch (err) {
      return Promise.reject(failure(err));
    }
    if (!limit) return promise.catch((err: unknown) => Promise.reject(failure(err)));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new StoreError(`[sess] the session store did not ${action} within ${limit} ms.`, { code: 'E_STORE_TIMEOUT' })), limit);
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(failure(err));
        },
      );
    });
  }
}

/** What migrating one old id gave: a sess id to use, a schema refusal, or nothing. */
type MigrateResult = { id: string; outcome: 'migrated' | 'handed-over' } | { outcome: 'invalid'; issues: string[] } | undefined;

/** The `cookie.expires` express-session stored, as epoch ms. */
function cookieExpiry(cookie: unknown): number | undefined {
  const expires = (cookie as { expires?: unknown } | null | undefined)?.expires;
  if (typeof expires !== 'string' && typeof expires !== 'number') return undefined;
  const ms = new Date(expires).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

/** A value as JSON keeps it (Dates become strings, undefined members go). */
function toJson(value: unknown): JsonValue {
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as JsonValue);
}

function nonNegative(value: number, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new ConfigError(`[sess] options.${name} must be zero or a positive number, not ${String(value)}.`);
  return value;
}
