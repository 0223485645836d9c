import { randomBytes } from 'node:crypto';
import { debuglog } from 'node:util';
import { ConfigError, ROTATED_MARK, ROTATED_MARK_TTL, StoreError, applyChange, isRotatedMark, isSessionRecord, toStoreError } from '@sess/core';
import type { SessionChange, SessionRecord, Store, StoredSession, UpdateResult, VersionedRecord } from '@sess/core/store';
import type { Cluster, Redis } from 'ioredis';
import { CAS_LUA, DEL_IF_LUA, INDEX_LUA, ROTATE_CAS_LUA, ROTATE_LUA, UPDATE_LUA } from './scripts.js';

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

/**
 * What UPDATE_LUA and ROTATE_LUA return: existed, written (-1: the new id is
 * taken), consumed flash JSON, old user JSON or '', new user JSON or '',
 * consumed tokens JSON, the record's JSON as stored ('' when none), moved (1:
 * nothing written because the key holds a rotated mark).
 */
type ScriptReply = [number, number, string, string, string, string, string, number];

/** The commands `defineCommand` adds to the client (EVALSHA, EVAL on NOSCRIPT). */
interface ScriptCommands {
  sessStoreUpdate(key: string, change: string, ttlMs: number): Promise<ScriptReply>;
  sessStoreRotate(oldKey: string, newKey: string, change: string, ttlMs: number, mark: string, markMs: number): Promise<ScriptReply>;
  sessStoreIndex(key: string, id: string, ttlMs: number): Promise<number>;
  sessStoreCas(key: string, expected: string, next: string, ttlMs: number): Promise<number>;
  sessStoreRotateCas(oldKey: string, newKey: string, expected: string, next: string, ttlMs: number, mark: string, markMs: number): Promise<number>;
  sessStoreDelIf(key: string, expected: string): Promise<number>;
}

type ScriptedClient = RedisClient & ScriptCommands;

/** Each script's command name, number of keys and source. */
const SCRIPTS: Array<[keyof ScriptCommands, number, string]> = [
  ['sessStoreUpdate', 1, UPDATE_LUA],
  ['sessStoreRotate', 2, ROTATE_LUA],
  ['sessStoreIndex', 1, INDEX_LUA],
  ['sessStoreCas', 1, CAS_LUA],
  ['sessStoreRotateCas', 2, ROTATE_CAS_LUA],
  ['sessStoreDelIf', 1, DEL_IF_LUA],
];

/**
 * What `rotate` leaves under the old id on a single node: core's rotated mark,
 * `{"sess:rotated":true}`. Not a session record, so every read (get, the
 * scripts, listByUser) takes it for absent; `update` and `rotate` of the id
 * answer `moved: true`.
 */
const MARK = JSON.stringify(ROTATED_MARK);

/**
 * The rotated mark on a Cluster, `{"sess:rotated":true,"nonce":"…"}`: written at
 * the linearisation point, before the new key. The nonce makes each rotation's
 * mark its own, so the undo of a rotation whose new id is taken (a
 * compare-and-set on the mark's text) never replaces another rotation's mark.
 */
const clusterMark = () => `{"sess:rotated":true,"nonce":"${randomBytes(12).toString('base64url')}"}`;

/** The longest a rotated mark stays (ms): ROTATED_MARK_TTL of core, 60 s. */
const MARK_TTL_MS = ROTATED_MARK_TTL * 1000;

/** A rotated mark's ttl in ms for a record written with `ms`: min(60 s, ms). */
const markMs = (ms: number) => Math.min(MARK_TTL_MS, ms);

/** Quick test before a JSON parse: every mark this store writes starts so. */
const MARK_PREFIX = '{"sess:rotated"';

/** How many times a Cluster `rotate` that lost a race with a writer of the old id tries again. */
const ROTATE_ATTEMPTS = 100;

/**
 * Redis error replies that say the server is unwell or busy rather than that it
 * refused this value: they stay `E_STORE` (503). Any other error reply
 * (WRONGTYPE, ERR value out of range, a script error) is `E_STORE_REFUSED` (500).
 */
const UNAVAILABLE_REPLY = /^(OOM|READONLY|LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|MISCONF|NOREPLICAS|NOSCRIPT|MOVED|ASK|NOAUTH|NOPERM|WRONGPASS|UNBLOCKED)\b/;

/** Whether Redis answered and refused the command (an error reply, not a failure to answer). */
function isRefusal(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError' && !UNAVAILABLE_REPLY.test(err.message);
}

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
 * The record as JSON, members in the order the Lua scripts write them (`user`
 * first), so a record reads the same whichever path wrote it.
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
 * `rotate` one script on a single node and a hand-over in one-key steps on a
 * Cluster, leaving a rotated mark under the old id either way; versions are the
 * stored JSON text, and a set per user lets an app list and end a user's sessions.
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
  /** A Cluster client: `rotate` takes the one-key steps (the old and new keys live in different slots). */
  readonly #cluster: boolean;

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
    for (const [name, numberOfKeys, lua] of SCRIPTS) {
      if (typeof scripted[name] !== 'function') this.client.defineCommand(name, { numberOfKeys, lua });
    }
    this.#cluster = (this.client as { isCluster?: boolean }).isCluster === true;
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

  get #scripts(): ScriptedClient {
    return this.client as ScriptedClient;
  }

  /**
   * The record (one GET) and its version, the exact text read; undefined when
   * absent, expired, unreadable or a rotated mark.
   * @example const found = await store.get(id); // { record, version }
   */
  async get(id: string): Promise<VersionedRecord | undefined> {
    const raw = await this.#run('read the session', () => this.client.get(this.key(id)));
    if (raw == null) return undefined;
    const record = this.#parse(raw, id);
    return record === undefined ? undefined : { record, version: raw };
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
   * Deletes the record, or the rotated mark (DEL); an absent id is not an error.
   * @example await store.destroy(id);
   */
  async destroy(id: string): Promise<void> {
    // Plain DEL: the user index is repaired when it is next listed.
    await this.#run('delete the session', () => this.client.del(this.key(id)));
  }

  /**
   * Applies `change` atomically, exactly as `applyChange` of @sess/core defines
   * it, and writes the result with the ttl. With `expected` (a `{ record, version }`
   * from `get` or a previous write) still stored, one compare-and-set script swaps
   * in `applyChange(expected.record, change)`; otherwise one script applies the
   * change to the stored record. Returns the new record and version when written.
   * With `ifExists`, an id that holds a rotated mark answers `moved: true` and
   * nothing is written; without it, a new record replaces the mark.
   * @example const { consumedTokens, version } = await store.update(id, { ifExists: true, consumeTokens: [token], lastSeen: Date.now() }, 3600, found);
   */
  async update(id: string, change: SessionChange, ttlSeconds: number, expected?: VersionedRecord): Promise<UpdateResult> {
    const ms = toMs(ttlSeconds);
    const key = this.key(id);
    return this.#run('update the session', async () => {
      // Fast path: if Redis still holds the very text the caller read, swap in
      // applyChange(expected.record, change) with a string compare (CAS_LUA).
      if (expected !== undefined && typeof expected.version === 'string' && ms > 0) {
        const outcome = applyChange(expected.record, change);
        const record = outcome.record;
        if (record) {
          const next = serialise(record);
          if ((await this.#scripts.sessStoreCas(key, expected.version, next, ms)) === 1) {
            // No user on either side (most sessions): no index to keep, no await.
            if (expected.record.user != null || record.user != null) await this.#reindex(id, id, expected.record.user, record.user, ms);
            // Built field by field: a rest and a spread take V8's slow generic path.
            return { existed: outcome.existed, written: true, consumedTokens: outcome.consumedTokens, consumedFlash: outcome.consumedFlash, record, version: next };
          }
        }
      }
      const reply = await this.#scripts.sessStoreUpdate(key, JSON.stringify(change), ms);
      // The user set is another key (another slot on a Cluster), so it is kept in
      // step by a follow-up command rather than inside the script.
      return this.#outcome(reply, id, id, ms);
    });
  }

  /**
   * Regenerates: the record under `oldId`, with `change` applied (`ifExists`
   * implied), moves to `newId`, and `oldId` keeps a rotated mark for
   * min(60 s, ttl): it reads as absent, and an update or rotate of `oldId`
   * answers `{ existed: false, written: false, moved: true }`. Nothing is written
   * when `oldId` holds no record (a session revoked meanwhile is never brought
   * back) or a mark (rotated already: `moved: true`).
   *
   * On a single node (or Sentinel) it is one script over both keys: a
   * compare-and-set (ROTATE_CAS_LUA) when `expected` is still stored, else
   * ROTATE_LUA, which reads, applies, writes the new key and the mark in one
   * step. On a Cluster the two ids hash to different slots, which no script can
   * span, so the old key is first swapped for the mark if it still holds the
   * version read (the linearisation point: from then on an overlapping update of
   * the old id learns it moved, and one that came before changed the version and
   * makes this step retry on the new text), then the new key is written (SET NX).
   * @example const moved = await store.rotate(oldId, newId, { lastSeen: Date.now() }, 3600, found);
   */
  async rotate(oldId: string, newId: string, change: SessionChange, ttlSeconds: number, expected?: VersionedRecord): Promise<UpdateResult> {
    const ms = toMs(ttlSeconds);
    const moved: SessionChange = { ...change, ifExists: true };
    const held = expected !== undefined && typeof expected.version === 'string' ? { record: expected.record, version: expected.version } : undefined;
    return this.#run('regenerate the session', () =>
      this.#cluster ? this.#rotateAcrossSlots(oldId, newId, moved, ms, held) : this.#rotateInScript(oldId, newId, moved, ms, held),
    );
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

  /** One node: the whole rotation in one script call. */
  async #rotateInScript(oldId: string, newId: string, change: SessionChange, ms: number, held: { record: SessionRecord; version: string } | undefined): Promise<UpdateResult> {
    const oldKey = this.key(oldId);
    const newKey = this.key(newId);
    if (held !== undefined && ms > 0) {
      const { record, ...outcome } = applyChange(held.record, change);
      const next = serialise(record!);
      const swapped = await this.#scripts.sessStoreRotateCas(oldKey, newKey, held.version, next, ms, MARK, markMs(ms));
      if (swapped === -1) throw taken();
      if (swapped === 1) {
        await this.#reindex(oldId, newId, held.record.user, record!.user, ms);
        return { ...outcome, written: true, record: record!, version: next };
      }
    }
    const reply = await this.#scripts.sessStoreRotate(oldKey, newKey, JSON.stringify(change), ms, MARK, markMs(ms));
    if (reply[1] === -1) throw taken();
    return this.#outcome(reply, oldId, newId, ms);
  }

  /**
   * A Cluster: swap the old key for a rotated mark if unchanged (retrying on a lost
   * race), then write the new key; the mark stays, expiring by itself. A failure
   * after the mark leaves the session gone (signed out), never in two places; for
   * up to 60 s an overlapping update of the old id then answers `moved` (its
   * change is lost and core says so with a 409, as for any lost change).
   */
  async #rotateAcrossSlots(oldId: string, newId: string, change: SessionChange, ms: number, held: { record: SessionRecord; version: string } | undefined): Promise<UpdateResult> {
    const oldKey = this.key(oldId);
    const newKey = this.key(newId);
    let current = held;
    for (let attempt = 0; attempt < ROTATE_ATTEMPTS; attempt++) {
      if (current === undefined) {
        const raw = await this.client.get(oldKey);
        const record = raw == null ? undefined : this.#parse(raw, oldId);
        if (record === undefined) return gone(raw != null && isMark(raw));
        current = { record, version: raw! };
      }
      const { record, ...outcome } = applyChange(current.record, change);
      const next = serialise(record!);
      const mark = clusterMark();
      // A ttl of 0 or less writes no record and leaves no mark: the mark is deleted below.
      if ((await this.#scripts.sessStoreCas(oldKey, current.version, mark, ms > 0 ? markMs(ms) : MARK_TTL_MS)) !== 1) {
        current = undefined; // written (or destroyed) since it was read: read it again
        continue;
      }
      if (ms > 0 && (await this.client.set(newKey, next, 'PX', ms, 'NX')) === null) {
        await this.#scripts.sessStoreCas(oldKey, mark, current.version, ms); // put the old record back
        throw taken();
      }
      if (ms <= 0) {
        await this.#scripts.sessStoreDelIf(oldKey, mark);
      } else {
        await this.#reindex(oldId, newId, current.record.user, record!.user, ms);
      }
      return { ...outcome, written: true, record: record!, version: next };
    }
    throw new StoreError(
      `[sess] RedisStore could not regenerate the session: ${ROTATE_ATTEMPTS} attempts in a row lost a race with other writers of the session. Check for a runaway client writing the same session.`,
      { code: 'E_STORE' },
    );
  }

  /** The UpdateResult of an UPDATE_LUA or ROTATE_LUA reply, after keeping the user sets in step. */
  async #outcome(reply: ScriptReply, oldId: string, newId: string, ms: number): Promise<UpdateResult> {
    const [existed, written, flash, oldUserRaw, newUserRaw, tokens, json, moved] = reply;
    const outcome: UpdateResult = {
      existed: existed === 1,
      written: written === 1,
      consumedTokens: JSON.parse(tokens) as string[],
      consumedFlash: JSON.parse(flash) as UpdateResult['consumedFlash'],
    };
    if (moved === 1) outcome.moved = true;
    if (written !== 1) return outcome;
    if (ms > 0) await this.#reindex(oldId, newId, parseUser(oldUserRaw), parseUser(newUserRaw), ms);
    return { ...outcome, record: JSON.parse(json) as SessionRecord, version: json };
  }

  /** The record in a stored text, or undefined when it is not one (corrupt, a rotated mark). */
  #parse(raw: string, id: string): SessionRecord | undefined {
    if (raw.startsWith(MARK_PREFIX)) return undefined;
    try {
      const record: unknown = JSON.parse(raw);
      if (isSessionRecord(record)) return record;
      if (isRotatedMark(record)) return undefined; // a mark: absent, not corrupt
    } catch {
      // corrupt: reads as absent, like every store
    }
    debug('unreadable record under %s reads as absent', this.key(id));
    return undefined;
  }

  async #listByUser(userId: string): Promise<StoredSession[]> {
    const userKey = this.userKey(userId);
    const ids = await this.client.smembers(userKey);
    // One GET per id rather than MGET: on a Cluster the ids hash to many slots.
    const raws = await Promise.all(ids.map((id) => this.client.get(this.key(id))));
    const found: StoredSession[] = [];
    const stale: string[] = [];
    ids.forEach((id, i) => {
      const raw = raws[i];
      const record = raw == null ? undefined : this.#parse(raw, id);
      if (record !== undefined && record.user === userId) found.push({ id, record });
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
   * Keeps the user sets in step after a write that may have changed the record's
   * user (update: `oldId === newId`) or its id (rotate): the new id into the new
   * user's set, the old id out of the old user's set unless it is the same entry.
   */
  async #reindex(oldId: string, newId: string, oldUser: string | null | undefined, newUser: string | null | undefined, ms: number): Promise<void> {
    await Promise.all([
      newUser != null ? this.#scripts.sessStoreIndex(this.userKey(newUser), newId, ms) : undefined,
      oldUser != null && (oldUser !== newUser || oldId !== newId) ? this.client.srem(this.userKey(oldUser), oldId) : undefined,
    ]);
  }

  /**
   * Every key matching `pattern`, by SCAN on each master (never KEYS, which blocks
   * Redis). ioredis adds a client `keyPrefix` to key arguments but not to a SCAN
   * pattern nor strips it from the keys SCAN returns, so both are done here.
   */
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

  /**
   * Runs Redis calls, turning a failure into a StoreError: `E_STORE_REFUSED` when
   * Redis answered with an error about the command or value (WRONGTYPE, a value out
   * of range), else `E_STORE` / `E_STORE_TIMEOUT` naming the client settings that
   * make an outage fail fast.
   */
  async #run<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StoreError) throw err;
      debug('failed to %s: %O', action, err);
      if (isRefusal(err)) throw toStoreError(err, action, true);
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

/** Whether a stored text that is no record is a rotated mark (any JSON object with the own key "sess:rotated"). */
function isMark(raw: string): boolean {
  try {
    return isRotatedMark(JSON.parse(raw));
  } catch {
    return false;
  }
}

/** A rotate or update that found no record under the id; `moved` when it held a rotated mark. */
function gone(moved: boolean): UpdateResult {
  return { existed: false, written: false, consumedTokens: [], consumedFlash: {}, ...(moved ? { moved: true } : {}) };
}

/** The new id of a rotation already holds something: nothing was changed. */
function taken(): StoreError {
  return new StoreError('[sess] RedisStore could not regenerate the session: the new id is already taken. Nothing was changed; regenerate again with another id.', {
    code: 'E_STORE',
  });
}
