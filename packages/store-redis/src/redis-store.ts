import { debuglog } from 'node:util';
import { ConfigError, StoreError, applyChange, isSessionRecord } from '@sess/core';
import type { SessionChange, SessionRecord, Store, StoredSession, UpdateResult } from '@sess/core';
import type { Cluster, Redis } from 'ioredis';
import { CAS_LUA, INDEX_LUA, TOUCH_LUA, UPDATE_LUA } from './scripts.js';

const debug = debuglog('sess:redis');

/** An ioredis client: a single node (also through Sentinel) or a Cluster. */
export type RedisClient = Redis | Cluster;

export interface RedisStoreOptions {
  /**
   * An ioredis client the application created and owns (`new Redis(...)`, a
   * Sentinel-backed `Redis`, or `new Cluster(...)`). The store never quits it.
   * Configure it so failures surface quickly (see the README): for example
   * `{ enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 2000 }`.
   * @example
   * new RedisStore({ client: new Redis({ enableOfflineQueue: false, commandTimeout: 2000 }) })
   */
  client: RedisClient;
  /**
   * Put before every key the store writes: `<prefix><sessionId>` for records,
   * `<prefix>user:<userId>` for the user index. Give each app its own prefix
   * when apps share a Redis.
   * @default 'sess:'
   * @example
   * new RedisStore({ client, prefix: 'myapp:sess:' })
   */
  prefix?: string;
}

/** The commands `defineCommand` adds to the client (EVALSHA, EVAL on NOSCRIPT). */
interface ScriptCommands {
  sessStoreUpdate(key: string, change: string, ttlMs: number): Promise<[number, number, string, string, string, string]>;
  sessStoreTouch(key: string, ttlMs: number): Promise<string | null>;
  sessStoreIndex(key: string, id: string, ttlMs: number): Promise<number>;
  sessStoreCas(key: string, expected: string, next: string, ttlMs: number): Promise<number>;
}

type ScriptedClient = RedisClient & ScriptCommands;

const SCRIPTS: Array<[keyof ScriptCommands, string]> = [
  ['sessStoreUpdate', UPDATE_LUA],
  ['sessStoreTouch', TOUCH_LUA],
  ['sessStoreIndex', INDEX_LUA],
  ['sessStoreCas', CAS_LUA],
];

/** Milliseconds for Redis from the contract's seconds. */
const toMs = (ttlSeconds: number) => Math.round(ttlSeconds * 1000);

/** A stored user field back from its JSON text, or undefined when none. */
function parseUser(raw: unknown): string | undefined {
  if (typeof raw !== 'string' || raw === '') return undefined;
  try {
    const user: unknown = JSON.parse(raw);
    return typeof user === 'string' ? user : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The record as JSON with `user` first, so the touch script can find the user
 * without scanning the data; the update script writes the same order.
 */
function serialise(record: SessionRecord): string {
  const parts: string[] = [];
  if (record.user != null) parts.push(`"user":${JSON.stringify(record.user)}`);
  if (record.meta !== undefined) parts.push(`"meta":${JSON.stringify(record.meta)}`);
  parts.push(
    `"createdAt":${JSON.stringify(record.createdAt)}`,
    `"lastSeen":${JSON.stringify(record.lastSeen)}`,
    `"tokens":${JSON.stringify(record.tokens)}`,
    `"flash":${JSON.stringify(record.flash)}`,
    `"data":${JSON.stringify(record.data)}`,
  );
  return `{${parts.join(',')}}`;
}

/** Escapes the glob characters of a prefix for SCAN MATCH. */
const globEscape = (text: string) => text.replace(/[*?[\]\\]/g, '\\$&');

/**
 * Sessions in Redis (ioredis): single node, Sentinel or Cluster. Records expire
 * natively (`SET … PX`), `update` is one Lua script call (atomic, one round trip),
 * and a set per user lets an app list and end a user's sessions.
 *
 * @example
 * import Redis from 'ioredis';
 * const store = new RedisStore({ client: new Redis({ enableOfflineQueue: false }), prefix: 'app:sess:' });
 * const manager = new SessionManager({ secret, store });
 */
export class RedisStore implements Store {
  /** The client the store talks through (yours: `close()` leaves it open). */
  readonly client: RedisClient;
  /** The key prefix. */
  readonly prefix: string;

  constructor(options: RedisStoreOptions) {
    const client = options?.client as Partial<Redis> | undefined;
    if (!client || typeof client.defineCommand !== 'function' || typeof client.get !== 'function') {
      throw new ConfigError(
        '[sess] RedisStore needs an ioredis client: pass { client: new Redis(...) } or { client: new Cluster([...]) } (ioredis >= 5).',
      );
    }
    const prefix = options.prefix ?? 'sess:';
    if (typeof prefix !== 'string') throw new ConfigError('[sess] RedisStore prefix must be a string, such as "sess:".');
    this.client = options.client;
    this.prefix = prefix;
    // defineCommand loads each script once and calls it by hash (EVALSHA), falling
    // back to EVAL when Redis answers NOSCRIPT (after a restart or a failover).
    const scripted = this.client as unknown as Record<string, unknown>;
    for (const [name, lua] of SCRIPTS) {
      if (typeof scripted[name] !== 'function') this.client.defineCommand(name, { numberOfKeys: 1, lua });
    }
  }

  /**
   * The key of a session record.
   * @example store.key('abc') // 'sess:abc'
   */
  key(id: string): string {
    return `${this.prefix}${id}`;
  }

  /**
   * The key of a user's index set.
   * @example store.userKey('42') // 'sess:user:42'
   */
  userKey(userId: string): string {
    return `${this.prefix}user:${userId}`;
  }

  /** The exact text each record `get` returned was read from, for the compare-and-set path of `update`. */
  readonly #raw = new WeakMap<SessionRecord, string>();

  get #scripts(): ScriptedClient {
    return this.client as ScriptedClient;
  }

  /**
   * The record (one GET), or undefined when absent, expired or unreadable.
   * @example const record = await store.get(id);
   */
  async get(id: string): Promise<SessionRecord | undefined> {
    const raw = await this.#run('read the session', () => this.client.get(this.key(id)));
    if (raw == null) return undefined;
    try {
      const record: unknown = JSON.parse(raw);
      if (isSessionRecord(record)) {
        this.#raw.set(record, raw);
        return record;
      }
    } catch {
      // corrupt: reads as absent, like every store
    }
    debug('unreadable record under %s reads as absent', this.key(id));
    return undefined;
  }

  /**
   * Creates or replaces the record with `SET … PX` (a ttl of 0 or less deletes it),
   * and adds it to its user's set.
   * @example await store.set(id, record, 3600);
   */
  async set(id: string, record: SessionRecord, ttlSeconds: number): Promise<void> {
    const ms = toMs(ttlSeconds);
    const key = this.key(id);
    await this.#run('write the session', async () => {
      if (ms <= 0) {
        await this.client.del(key);
        return;
      }
      // The index entry goes out with the record (one round trip on one node); a
      // stale entry left by a failure is harmless: listing drops it.
      await Promise.all([
        this.client.set(key, serialise(record), 'PX', ms),
        record.user != null ? this.#scripts.sessStoreIndex(this.userKey(record.user), id, ms) : undefined,
      ]);
    });
  }

  /**
   * Deletes the record (DEL); an absent id is not an error.
   * @example await store.destroy(id);
   */
  async destroy(id: string): Promise<void> {
    // Plain DEL: the user index is repaired when it is next listed.
    await this.#run('delete the session', () => this.client.del(this.key(id)));
  }

  /**
   * Extends the expiry of an existing record (PEXPIRE, in a script that also
   * reads the record's user so its set lives as long); never creates a key.
   * @example await store.touch(id, 3600);
   */
  async touch(id: string, ttlSeconds: number): Promise<void> {
    const ms = toMs(ttlSeconds);
    await this.#run('extend the session', async () => {
      const user = parseUser(await this.#scripts.sessStoreTouch(this.key(id), ms));
      if (user !== undefined && ms > 0) await this.#scripts.sessStoreIndex(this.userKey(user), id, ms);
    });
  }

  /**
   * Applies `change` atomically in one script call, exactly as `applyChange` of
   * @sess/core defines it, and writes the result with the ttl.
   * @example const { consumedTokens } = await store.update(id, { ifExists: true, consumeTokens: [token], lastSeen: Date.now() }, 3600);
   */
  async update(id: string, change: SessionChange, ttlSeconds: number, base?: SessionRecord): Promise<UpdateResult> {
    const ms = toMs(ttlSeconds);
    return this.#run('update the session', async () => {
      // Fast path: the caller read `base` from us; if Redis still holds that very
      // text, swap in applyChange(base, change) with a string compare (CAS_LUA).
      const expected = base === undefined ? undefined : this.#raw.get(base);
      if (expected !== undefined && ms > 0) {
        const { record, ...outcome } = applyChange(base, change);
        if (record && (await this.#scripts.sessStoreCas(this.key(id), expected, serialise(record), ms)) === 1) {
          await this.#reindex(id, base!.user ?? undefined, record.user ?? undefined, ms);
          return { ...outcome, written: true };
        }
      }
      const reply = await this.#scripts.sessStoreUpdate(this.key(id), JSON.stringify(change), ms);
      const [existed, written, flash, oldUserRaw, newUserRaw, tokens] = reply;
      const oldUser = parseUser(oldUserRaw);
      const newUser = parseUser(newUserRaw);
      // The user set is another key (another slot on a Cluster), so it is kept in
      // step by a follow-up command rather than inside the script.
      if (written === 1 && ms > 0) await this.#reindex(id, oldUser, newUser, ms);
      return {
        existed: existed === 1,
        written: written === 1,
        consumedTokens: JSON.parse(tokens) as string[],
        consumedFlash: JSON.parse(flash) as UpdateResult['consumedFlash'],
      };
    });
  }

  /**
   * Redis expires records itself, so there is nothing to delete: this only drops
   * index entries of sessions that are gone (SCAN over the user sets, never KEYS).
   * Returns 0, the number of expired records it deleted.
   * @example await store.prune(); // from a daily job, if at all
   */
  async prune(): Promise<number> {
    await this.#run('prune the user index', async () => {
      for (const userKey of await this.#scan(`${globEscape(this.prefix)}user:*`)) {
        const ids = await this.client.smembers(userKey);
        const exists = await Promise.all(ids.map((id) => this.client.exists(this.key(id))));
        const gone = ids.filter((_, i) => exists[i] === 0);
        if (gone.length) {
          debug('prune: %d stale ids in %s', gone.length, userKey);
          await this.client.srem(userKey, ...gone);
        }
      }
    });
    return 0;
  }

  /**
   * The live sessions of a user; ids that are gone or now belong to someone else
   * are dropped from the user's set on the way.
   * @example const sessions = await store.listByUser('42');
   */
  async listByUser(userId: string): Promise<StoredSession[]> {
    return this.#run('list the sessions of a user', () => this.#listByUser(userId));
  }

  /**
   * Deletes every session of a user but `exceptId`, returning how many.
   * @example await store.destroyByUser('42', currentSessionId);
   */
  async destroyByUser(userId: string, exceptId?: string): Promise<number> {
    return this.#run('delete the sessions of a user', async () => {
      const doomed = (await this.#listByUser(userId)).filter((s) => s.id !== exceptId).map((s) => s.id);
      if (!doomed.length) return 0;
      const deleted = await Promise.all(doomed.map((id) => this.client.del(this.key(id))));
      await this.client.srem(this.userKey(userId), ...doomed);
      return deleted.reduce((sum, n) => sum + n, 0);
    });
  }

  /**
   * Nothing to release: the client is the application's (quit it yourself).
   * @example await store.close(); await client.quit();
   */
  async close(): Promise<void> {}

  async #listByUser(userId: string): Promise<StoredSession[]> {
    const userKey = this.userKey(userId);
    const ids = await this.client.smembers(userKey);
    // One GET per id rather than MGET: on a Cluster the ids hash to many slots.
    const raws = await Promise.all(ids.map((id) => this.client.get(this.key(id))));
    const found: StoredSession[] = [];
    const stale: string[] = [];
    ids.forEach((id, i) => {
      let record: unknown;
      try {
        record = raws[i] == null ? undefined : JSON.parse(raws[i]!);
      } catch {
        record = undefined;
      }
      if (isSessionRecord(record) && record.user === userId) found.push({ id, record });
      else stale.push(id);
    });
    // Read repair: destroyed, expired and re-assigned sessions leave the set here.
    if (stale.length) {
      debug('listByUser: dropping %d stale ids from %s', stale.length, userKey);
      await this.client.srem(userKey, ...stale);
    }
    return found;
  }

  /**
   * Every key matching `pattern`, by SCAN on each master (never KEYS, which blocks
   * Redis). ioredis adds a client `keyPrefix` to key arguments but not to a SCAN
   * pattern nor strips it from the keys SCAN returns, so both are done here.
   */
  /** Keeps the user sets in step after a write that may have changed the record's user. */
  async #reindex(id: string, oldUser: string | undefined, newUser: string | undefined, ms: number): Promise<void> {
    await Promise.all([
      newUser !== undefined ? this.#scripts.sessStoreIndex(this.userKey(newUser), id, ms) : undefined,
      oldUser !== undefined && oldUser !== newUser ? this.client.srem(this.userKey(oldUser), id) : undefined,
    ]);
  }

  async #scan(pattern: string): Promise<string[]> {
    const client = this.client as Partial<Cluster>;
    const keyPrefix = (this.client.options as { keyPrefix?: string } | undefined)?.keyPrefix ?? '';
    const nodes: Redis[] = typeof client.nodes === 'function' ? client.nodes('master') : [this.client as Redis];
    const keys = new Set<string>();
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', globEscape(keyPrefix) + pattern, 'COUNT', 500);
        cursor = next;
        for (const key of batch) keys.add(key.startsWith(keyPrefix) ? key.slice(keyPrefix.length) : key);
      } while (cursor !== '0');
    }
    return [...keys];
  }

  async #run<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      debug('failed to %s: %O', action, err);
      const detail = err instanceof Error ? err.message : String(err);
      const timeout = /timed? ?out/i.test(detail);
      throw new StoreError(
        `[sess] RedisStore could not ${action}: ${detail}. Check that Redis is reachable; configure ioredis to fail fast ` +
          '(enableOfflineQueue: false or a small maxRetriesPerRequest, connectTimeout, commandTimeout) so requests do not hang.',
        { cause: err, code: timeout ? 'E_STORE_TIMEOUT' : 'E_STORE' },
      );
    }
  }
}
