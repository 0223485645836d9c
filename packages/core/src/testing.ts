/**
 * Test helpers for sess stores and apps (needs vitest):
 * - `testStore()`: the conformance suite every store runs against its real backend.
 * - `TestClient`: drives `load`/`commit` across "requests" with a cookie jar, no HTTP.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyChange, emptyRecord } from './change.js';
import { generateId } from './ids.js';
import type { SessionManager } from './manager.js';
import type { Session } from './session.js';
import type { JsonValue, SessionChange, SessionRecord, Store, VersionedRecord } from './types.js';

export interface TestStoreOptions<S extends Store = Store> {
  /** Shown in the test names. */
  name: string;
  /** A store connected to a fresh namespace (table, prefix, folder) of the real backend. */
  create: () => S | Promise<S>;
  /** Called once after the suite, with the store `create` made (close it, drop the table). */
  cleanup?: (store: S) => void | Promise<void>;
  /** Plants unreadable data for `id` (bad JSON, wrong shape) in the backend. */
  corrupt?: (store: S, id: string) => Promise<void>;
  /** Milliseconds to wait for a 1-second TTL to have run out. @default 1300 */
  expiryWait?: number;
  /** How many random change sets to compare with `applyChange`. @default 60 */
  randomChanges?: number;
  /**
   * The backend expires records itself (Redis): `prune()` has nothing to delete
   * and returns 0, and expired records must be gone without it.
   * @default false
   */
  nativeExpiry?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A record whose values exercise serialisation: unicode, nesting, big strings, odd keys. */
export function sampleRecord(now = Date.now()): SessionRecord {
  const data: Record<string, JsonValue> = {
    text: 'héllo wörld ✓ 日本語 🎉 \u0000 "quotes" \\ back',
    nested: { a: [1, 2, { b: null, c: true, d: -1.5e-7 }], empty: {}, list: [] },
    large: 'x'.repeat(200_000),
    number: 12345678901234,
  };
  // A key that must stay a plain key, never a prototype.
  Object.defineProperty(data, '__proto__', { value: { polluted: true }, enumerable: true, writable: true, configurable: true });
  return { ...emptyRecord(now), data, flash: { notice: 'saved' }, tokens: [generateId(), generateId()] };
}

/**
 * The store conformance suite. Call it in a test file of the store's package:
 *
 * @example
 * testStore({ name: 'RedisStore', create: () => new RedisStore({ client, prefix: `t${Date.now()}:` }) });
 */
export function testStore<S extends Store>(options: TestStoreOptions<S>): void {
  const expiryWait = options.expiryWait ?? 1300;
  describe(`${options.name}: store conformance`, () => {
    let store: S;
    beforeAll(async () => {
      store = await options.create();
    });
    afterAll(async () => {
      if (store) await options.cleanup?.(store);
    });
    const id = () => generateId();
    const read = async (key: string): Promise<SessionRecord | undefined> => (await store.get(key))?.record;

    it('reads an absent id as undefined', async () => {
      expect(await read(id())).toBeUndefined();
    });

    it('round-trips a record unchanged (unicode, nesting, large values, "__proto__" keys)', async () => {
      const key = id();
      const record = sampleRecord();
      await store.set(key, record, 60);
      const back = await read(key);
      expect(back).toEqual(record);
      expect(Object.keys(back!.data)).toContain('__proto__');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.getPrototypeOf(back!.data)).toBe(Object.prototype);
    });

    it('replaces a record on set', async () => {
      const key = id();
      await store.set(key, { ...emptyRecord(1), data: { v: 1 } }, 60);
      await store.set(key, { ...emptyRecord(2), data: { w: 2 } }, 60);
      expect(await read(key)).toEqual({ ...emptyRecord(2), data: { w: 2 } });
    });

    it('keeps records apart', async () => {
      const [a, b] = [id(), id()];
      await store.set(a, { ...emptyRecord(1), data: { who: 'a' } }, 60);
      await store.set(b, { ...emptyRecord(1), data: { who: 'b' } }, 60);
      expect((await read(a))?.data.who).toBe('a');
      expect((await read(b))?.data.who).toBe('b');
    });

    it('destroys a record, and destroying an absent id is not an error', async () => {
      const key = id();
      await store.set(key, emptyRecord(1), 60);
      await store.destroy(key);
      expect(await read(key)).toBeUndefined();
      await expect(store.destroy(key)).resolves.toBeUndefined();
      await expect(store.destroy(id())).resolves.toBeUndefined();
    });

    it('expires a record after its ttl', async () => {
      const [short, long] = [id(), id()];
      await store.set(short, emptyRecord(1), 1);
      await store.set(long, emptyRecord(1), 60);
      expect(await read(short)).toBeDefined();
      await sleep(expiryWait);
      expect(await read(short)).toBeUndefined();
      expect(await read(long)).toBeDefined();
    });

    if (options.corrupt) {
      it('reads corrupt data as absent, never throws', async () => {
        const key = id();
        await store.set(key, emptyRecord(1), 60);
        await options.corrupt!(store, key);
        expect(await read(key)).toBeUndefined();
      });
    }

    describe('update', () => {
      it('creates an absent record unless ifExists, and reports what existed', async () => {
        const key = id();
        const none = await store.update!(key, { ifExists: true, put: { a: 1 }, lastSeen: 10 }, 60);
        expect(none).toMatchObject({ existed: false, written: false });
        expect(await read(key)).toBeUndefined();
        const made = await store.update!(key, { put: { a: 1 }, lastSeen: 10 }, 60);
        expect(made).toMatchObject({ existed: false, written: true });
        expect(await read(key)).toEqual(applyChange(undefined, { put: { a: 1 }, lastSeen: 10 }).record);
        const again = await store.update!(key, { ifExists: true, put: { b: 2 }, lastSeen: 20 }, 60);
        expect(again).toMatchObject({ existed: true, written: true });
        expect((await read(key))?.data).toEqual({ a: 1, b: 2 });
      });

      it('applies 50 overlapping increments: exactly 50', async () => {
        const key = id();
        await store.set(key, emptyRecord(1), 60);
        await Promise.all(Array.from({ length: 50 }, (_, i) => store.update!(key, { ifExists: true, increment: { n: 1 }, lastSeen: i }, 60)));
        expect((await read(key))?.data.n).toBe(50);
      });

      it('keeps every key of overlapping updates that set different keys', async () => {
        const key = id();
        await store.set(key, emptyRecord(1), 60);
        await Promise.all(Array.from({ length: 30 }, (_, i) => store.update!(key, { ifExists: true, put: { [`k${i}`]: i }, lastSeen: 2 }, 60)));
        const data = (await read(key))!.data;
        for (let i = 0; i < 30; i++) expect(data[`k${i}`]).toBe(i);
      });

      it('consumes a token at most once across overlapping updates', async () => {
        const key = id();
        const token = generateId();
        await store.set(key, { ...emptyRecord(1), tokens: [generateId(), token] }, 60);
        const results = await Promise.all(Array.from({ length: 10 }, () => store.update!(key, { ifExists: true, consumeTokens: [token], lastSeen: 2 }, 60)));
        expect(results.filter((r) => r.consumedTokens.includes(token))).toHaveLength(1);
        expect((await read(key))?.tokens).toHaveLength(1);
      });

      it('delivers a flash value to exactly one of overlapping consumers', async () => {
        const key = id();
        await store.set(key, { ...emptyRecord(1), flash: { msg: 'hi' } }, 60);
        const results = await Promise.all(Array.from({ length: 10 }, () => store.update!(key, { ifExists: true, consumeFlash: ['msg'], lastSeen: 2 }, 60)));
        expect(results.filter((r) => 'msg' in r.consumedFlash)).toHaveLength(1);
        expect(results.find((r) => 'msg' in r.consumedFlash)?.consumedFlash.msg).toBe('hi');
      });

      it('does not resurrect a destroyed record', async () => {
        const key = id();
        await store.set(key, emptyRecord(1), 60);
        await store.destroy(key);
        const result = await store.update!(key, { ifExists: true, put: { late: true }, lastSeen: 3 }, 60);
        expect(result.existed).toBe(false);
        expect(await read(key)).toBeUndefined();
      });

      it('given the base record it read, gives the same outcome, and still applies on top of a newer stored record', async () => {
        const key = id();
        const token = generateId();
        await store.set(key, { ...emptyRecord(1), data: { a: 1 }, tokens: [token], flash: { f: 'x' } }, 60);
        const base = (await store.get(key))!;
        const change: SessionChange = { ifExists: true, put: { b: 2 }, increment: { n: 1 }, consumeTokens: [token], consumeFlash: ['f'], lastSeen: 5 };
        const want = applyChange(base.record, change);
        const got = await store.update(key, change, 60, base);
        expect(got).toMatchObject({ existed: true, written: true, consumedTokens: want.consumedTokens, consumedFlash: want.consumedFlash });
        expect(got.record).toEqual(want.record);
        expect(await read(key)).toEqual(want.record);
        // A stale base: another request changed the record since it was read.
        const stale = (await store.get(key))!;
        await store.update!(key, { ifExists: true, put: { c: 3 }, increment: { n: 1 }, lastSeen: 6 }, 60);
        const again = await store.update!(key, { ifExists: true, put: { d: 4 }, increment: { n: 1 }, consumeTokens: [token], lastSeen: 7 }, 60, stale);
        expect(again.consumedTokens).toEqual([]);
        expect((await read(key))!.data).toEqual({ a: 1, b: 2, c: 3, d: 4, n: 3 });
        // A base whose record was destroyed meanwhile: nothing comes back.
        const gone = (await store.get(key))!;
        await store.destroy(key);
        expect(await store.update!(key, { ifExists: true, put: { e: 5 }, lastSeen: 8 }, 60, gone)).toMatchObject({ existed: false, written: false });
        expect(await read(key)).toBeUndefined();
      });

      it('sets the ttl of the record it writes', async () => {
        const key = id();
        await store.set(key, emptyRecord(1), 60);
        await store.update!(key, { ifExists: true, put: { a: 1 }, lastSeen: 2 }, 1);
        await sleep(expiryWait);
        expect(await read(key)).toBeUndefined();
      });

      it(`agrees with applyChange on ${options.randomChanges ?? 60} random change sets`, async (ctx) => {
        const random = seeded(options.name.length * 7919 + 17);
        const key = id();
        let expected: SessionRecord | undefined;
        for (let round = 0; round < (options.randomChanges ?? 60); round++) {
          if (random() < 0.08) {
            await store.destroy(key);
            expected = undefined;
            continue;
          }
          const change = randomChange(random, expected, round);
          const want = applyChange(expected, change);
          const got = await store.update!(key, change, 60);
          expect({ existed: got.existed, written: got.written }).toEqual({ existed: want.existed, written: want.record !== undefined });
          expect([...got.consumedTokens].sort()).toEqual([...want.consumedTokens].sort());
          expect(got.consumedFlash).toEqual(want.consumedFlash);
          expected = want.record; // undefined only when ifExists found nothing, as before
          expect(await read(key)).toEqual(expected);
        }
      });
    });

    describe('contract v2: versions', () => {
      it('gives a version with each read: equal for an unchanged record, new after each write, and the one update returns', async () => {
        const key = id();
        await store.set(key, { ...emptyRecord(1), data: { a: 1 } }, 60);
        const first = (await store.get(key))!;
        const again = (await store.get(key))!;
        expect(first.version).toEqual(again.version);
        expect(['string', 'number']).toContain(typeof first.version);
        const result = await store.update(key, { ifExists: true, put: { b: 2 }, lastSeen: 2 }, 60, first);
        expect(result.written).toBe(true);
        expect(result.version).toBeDefined();
        expect(result.version).not.toEqual(first.version);
        const now = (await store.get(key))!;
        expect(now.version).toEqual(result.version);
        expect(now.record).toEqual(result.record);
      });

      it('chains the writes of one request on the versions they return, with the same outcome as applyChange', async () => {
        const key = id();
        const token = generateId();
        await store.set(key, { ...emptyRecord(1), tokens: [token], flash: { f: 1 } }, 60);
        let held: VersionedRecord = (await store.get(key))!;
        let want: SessionRecord = held.record;
        const changes: SessionChange[] = [
          { ifExists: true, consumeFlash: ['f'], consumeTokens: [token], lastSeen: 2 },
          { ifExists: true, increment: { n: 1 }, flash: { g: 'x' }, lastSeen: 3 },
          { ifExists: true, put: { done: true }, increment: { n: 2 }, lastSeen: 4 },
        ];
        for (const change of changes) {
          const expected = applyChange(want, change);
          const result = await store.update(key, change, 60, held);
          expect(result).toMatchObject({ existed: true, written: true, consumedTokens: expected.consumedTokens, consumedFlash: expected.consumedFlash });
          want = expected.record!;
          held = { record: result.record!, version: result.version! };
          expect(held.record).toEqual(want);
        }
        expect(await read(key)).toEqual(want);
      });

      it('never lets a version held before another writer decide the outcome', async () => {
        const key = id();
        await store.set(key, emptyRecord(1), 60);
        const held = (await store.get(key))!;
        await store.update(key, { ifExists: true, increment: { n: 5 }, lastSeen: 2 }, 60);
        await store.update(key, { ifExists: true, increment: { n: 1 }, lastSeen: 3 }, 60, held);
        expect((await read(key))!.data.n).toBe(6);
      });
    });

    describe('contract v2: rotate (regenerate in one step)', () => {
      it('moves the record to the new id with the change applied, and the old id is gone', async () => {
        const [from, to] = [id(), id()];
        const token = generateId();
        await store.set(from, { ...emptyRecord(1), data: { keep: 'me' }, tokens: [token] }, 60);
        const held = (await store.get(from))!;
        const change: SessionChange = { put: { signedIn: true }, consumeTokens: [token], lastSeen: 5 };
        const want = applyChange(held.record, { ...change, ifExists: true });
        const result = await store.rotate(from, to, change, 60, held);
        expect(result).toMatchObject({ existed: true, written: true, consumedTokens: [token] });
        expect(result.record).toEqual(want.record);
        expect(await read(from)).toBeUndefined();
        const moved = (await store.get(to))!;
        expect(moved.record).toEqual(want.record);
        expect(moved.version).toEqual(result.version);
      });

      it('starts from an empty record with reset, but only when the old record exists', async () => {
        const [from, to] = [id(), id()];
        await store.set(from, { ...emptyRecord(1), data: { old: 1 }, flash: { f: 1 }, tokens: [generateId()], user: 'someone' }, 60);
        const result = await store.rotate(from, to, { reset: true, put: { fresh: 1 }, lastSeen: 9 }, 60);
        expect(result.existed).toBe(true);
        expect(await read(to)).toEqual({ ...emptyRecord(9), data: { fresh: 1 } });
        expect(await read(from)).toBeUndefined();
      });

      it('writes nothing when the old record is gone (a revoked session never comes back)', async () => {
        const [from, to] = [id(), id()];
        await store.set(from, { ...emptyRecord(1), data: { a: 1 }, user: `u-${from}` }, 60);
        const held = (await store.get(from))!;
        await store.destroy(from); // "sign out everywhere" meanwhile
        const result = await store.rotate(from, to, { put: { b: 2 }, lastSeen: 2 }, 60, held);
        expect(result).toMatchObject({ existed: false, written: false });
        expect(await store.get(to)).toBeUndefined();
        expect(await store.get(from)).toBeUndefined();
        const absent = await store.rotate(id(), to, { reset: true, lastSeen: 2 }, 60);
        expect(absent).toMatchObject({ existed: false, written: false });
        expect(await store.get(to)).toBeUndefined();
      });

      it('loses no overlapping update: each one is in the moved record or finds the old id gone', async () => {
        const [from, to] = [id(), id()];
        await store.set(from, emptyRecord(1), 60);
        const updates = Array.from({ length: 20 }, (_, i) => store.update(from, { ifExists: true, increment: { n: 1 }, lastSeen: 2 + i }, 60));
        const rotation = store.rotate(from, to, { put: { rotated: true }, lastSeen: 2 }, 60);
        const results = await Promise.all(updates);
        expect((await rotation).existed).toBe(true);
        const landed = results.filter((r) => r.existed).length;
        expect(results.every((r) => r.existed === r.written)).toBe(true);
        expect((await read(to))!.data.n ?? 0).toBe(landed);
        expect(await read(from)).toBeUndefined();
        // Later writes to the old id find it gone, write nothing, and learn it moved.
        expect(await store.update(from, { ifExists: true, put: { late: 1 }, lastSeen: 50 }, 60)).toMatchObject({ existed: false, written: false, moved: true });
        expect(await read(from)).toBeUndefined();
      });

      it('tells a moved id from a destroyed one: an update of a rotated-away id says moved, of a destroyed id not', async () => {
        const [from, to, destroyed] = [id(), id(), id()];
        await store.set(from, { ...emptyRecord(1), user: `u-${from}` }, 60);
        await store.set(destroyed, emptyRecord(1), 60);
        const held = (await store.get(from))!;
        await store.rotate(from, to, { lastSeen: 2 }, 60);
        await store.destroy(destroyed);
        const late = await store.update(from, { ifExists: true, increment: { n: 1 }, lastSeen: 3 }, 60, held);
        expect(late).toMatchObject({ existed: false, written: false, moved: true });
        const gone = await store.update(destroyed, { ifExists: true, increment: { n: 1 }, lastSeen: 3 }, 60);
        expect(gone).toMatchObject({ existed: false, written: false });
        expect(gone.moved ?? false).toBe(false);
        // The mark is no session: it reads as absent, is never listed, and cannot be rotated again.
        expect(await store.get(from)).toBeUndefined();
        if (store.listByUser) expect((await store.listByUser(`u-${from}`)).map((s) => s.id)).toEqual([to]);
        const again = await store.rotate(from, id(), { lastSeen: 4 }, 60);
        expect(again).toMatchObject({ existed: false, written: false, moved: true });
        // destroy() removes a mark like any record.
        await store.destroy(from);
        expect((await store.update(from, { ifExists: true, put: { x: 1 }, lastSeen: 5 }, 60)).moved ?? false).toBe(false);
      });

      it('moves the user index with the record', async (ctx) => {
        if (!store.listByUser) return ctx.skip();
        const user = `u-${generateId()}`;
        const [from, to] = [id(), id()];
        await store.set(from, { ...emptyRecord(1), user }, 60);
        await store.rotate(from, to, { lastSeen: 2 }, 60);
        expect((await store.listByUser!(user)).map((s) => s.id)).toEqual([to]);
      });

      it('of two overlapping rotations of one id, exactly one moves the record', async () => {
        const from = id();
        await store.set(from, { ...emptyRecord(1), data: { a: 1 } }, 60);
        const targets = [id(), id(), id()];
        const results = await Promise.all(targets.map((to) => store.rotate(from, to, { lastSeen: 2 }, 60)));
        expect(results.filter((r) => r.existed)).toHaveLength(1);
        const found = (await Promise.all(targets.map((to) => read(to)))).filter(Boolean);
        expect(found).toHaveLength(1);
      });
    });

    describe('contract v2: limits', () => {
      it('keeps a user id of 512 characters (any id setUser accepts) and lists by it', async () => {
        const user = `${'é'.repeat(100)}${'u'.repeat(400)}-${generateId().slice(0, 11)}`;
        expect(user.length).toBe(512);
        const key = id();
        await store.set(key, emptyRecord(1), 60);
        await store.update(key, { ifExists: true, user, lastSeen: 2 }, 60);
        expect((await read(key))!.user).toBe(user);
        if (store.listByUser) expect((await store.listByUser(user)).map((s) => s.id)).toEqual([key]);
        if (store.destroyByUser) expect(await store.destroyByUser(user)).toBe(1);
      });
    });

    describe('prune', () => {
      it(options.nativeExpiry ? 'leaves nothing expired behind and returns 0 (the backend expires records itself)' : 'deletes expired records only and returns how many', async (ctx) => {
        if (!store.prune) return ctx.skip();
        const expired = [id(), id(), id()];
        const live = id();
        for (const key of expired) await store.set(key, emptyRecord(1), 1);
        await store.set(live, emptyRecord(1), 60);
        await sleep(expiryWait);
        const count = await store.prune!();
        if (options.nativeExpiry) expect(count).toBe(0);
        else expect(count).toBeGreaterThanOrEqual(expired.length);
        expect(await read(live)).toBeDefined();
        for (const key of expired) expect(await read(key)).toBeUndefined();
        expect(await store.prune!()).toBe(0);
      });
    });

    describe('user index', () => {
      const withUser = (user: string, now = 1): SessionRecord => ({ ...emptyRecord(now), user });

      it('lists the sessions of a user, and only theirs', async (ctx) => {
        if (!store.listByUser) return ctx.skip();
        const user = `u-${generateId()}`;
        const mine = [id(), id(), id()];
        for (const key of mine) await store.set(key, withUser(user), 60);
        await store.set(id(), withUser(`other-${user}`), 60);
        const listed = await store.listByUser!(user);
        expect(listed.map((s) => s.id).sort()).toEqual([...mine].sort());
        for (const s of listed) expect(s.record.user).toBe(user);
      });

      it('follows the user through update, and drops destroyed and expired sessions', async (ctx) => {
        if (!store.listByUser) return ctx.skip();
        const user = `u-${generateId()}`;
        const [a, b, c, d] = [id(), id(), id(), id()];
        await store.set(a, emptyRecord(1), 60);
        if (store.update) await store.update(a, { ifExists: true, user, lastSeen: 2 }, 60);
        else await store.set(a, withUser(user), 60);
        await store.set(b, withUser(user), 60);
        await store.set(c, withUser(user), 1);
        await store.set(d, withUser(user), 60);
        await store.destroy(b);
        if (store.update) await store.update(d, { ifExists: true, user: null, lastSeen: 2 }, 60);
        else await store.set(d, emptyRecord(1), 60);
        await sleep(expiryWait);
        expect((await store.listByUser!(user)).map((s) => s.id)).toEqual([a]);
      });

      it('destroys every session of a user but the one excepted', async (ctx) => {
        if (!store.destroyByUser) return ctx.skip();
        const user = `u-${generateId()}`;
        const keys = [id(), id(), id()];
        for (const key of keys) await store.set(key, withUser(user), 60);
        const other = id();
        await store.set(other, withUser(`other-${user}`), 60);
        expect(await store.destroyByUser!(user, keys[0])).toBe(2);
        expect(await read(keys[0]!)).toBeDefined();
        expect(await read(keys[1]!)).toBeUndefined();
        expect(await read(keys[2]!)).toBeUndefined();
        expect(await read(other)).toBeDefined();
        expect(await store.destroyByUser!(user)).toBe(1);
        expect(await store.listByUser!(user)).toEqual([]);
      });
    });
  });
}

/** A small deterministic PRNG (mulberry32), so a failing random case repeats. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomChange(random: () => number, current: SessionRecord | undefined, round: number): SessionChange {
  const keys = ['a', 'b', 'c', 'ü', '__proto__', 'constructor', 'n'];
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)] as T;
  const some = (n: number) => Array.from({ length: Math.floor(random() * n) }, () => pick(keys));
  const value = (): JsonValue => pick<JsonValue>([1, -2.5, 'str', 'ünï', null, true, [1, 'x'], { deep: { x: [null] } }, round]);
  const change: SessionChange = { lastSeen: 1000 + round };
  if (random() < 0.3) change.ifExists = true;
  if (random() < 0.1) change.clear = true;
  if (random() < 0.4) change.remove = [...new Set(some(3))];
  if (random() < 0.6) change.put = Object.fromEntries(some(4).map((k) => [k, value()]));
  if (random() < 0.4) change.increment = Object.fromEntries(some(2).map((k) => [k, Math.floor(random() * 10) - 3]));
  if (random() < 0.4) change.flash = Object.fromEntries(some(2).map((k) => [k, value()]));
  if (random() < 0.3) change.consumeFlash = some(3);
  const ring = current?.tokens ?? [];
  if (random() < 0.3) change.addTokens = Array.from({ length: 1 + Math.floor(random() * 25) }, () => generateId());
  if (random() < 0.3 && ring.length) change.consumeTokens = [pick(ring), generateId()];
  if (random() < 0.2) change.user = random() < 0.5 ? null : `user-${Math.floor(random() * 3)}`;
  if (random() < 0.15) change.meta = { userAgent: `agent ${round}` };
  // JSON round trip: a store receives the change serialised, "__proto__" keys included.
  return JSON.parse(JSON.stringify(change)) as SessionChange;
}

/** One simulated request's outcome. */
export interface TestResponse<T> {
  result: T;
  setCookie: string | undefined;
  session: Session<any>;
}

/**
 * A browser-like client for a `SessionManager`: keeps the cookie between
 * "requests" and runs each handler between `load` and `commit`.
 *
 * @example
 * const client = new TestClient(manager);
 * await client.request((s) => s.flash('msg', 'hi'));
 * const { result } = await client.request((s) => s.get('msg')); // 'hi'
 */
export class TestClient<Data extends object = Record<string, any>> {
  /** The cookie pair sent with each request (`name=value`), or undefined. */
  cookie: string | undefined;

  constructor(readonly manager: SessionManager<Data>) {}

  async request<T>(handler: (session: Session<Data>) => T | Promise<T>): Promise<TestResponse<T>> {
    const session = await this.manager.load(this.cookie);
    const result = await handler(session);
    const setCookie = await this.manager.commit(session);
    if (setCookie !== undefined) this.receive(setCookie);
    return { result, setCookie, session };
  }

  /** Applies a `Set-Cookie` value to the jar as a browser would. */
  receive(setCookie: string): void {
    const pair = setCookie.split(';')[0]!;
    this.cookie = /;\s*Max-Age=0/i.test(setCookie) ? undefined : pair;
  }

  /** A second client with the same cookie: another tab, or a replayed request. */
  fork(): TestClient<Data> {
    const twin = new TestClient(this.manager);
    twin.cookie = this.cookie;
    return twin;
  }
}

/** 32 random bytes, base64url: a valid secret for tests. */
export function testSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Store calls counted by `countStoreCalls`. */
export interface StoreCallCounts {
  /** Calls per store method. */
  readonly calls: Record<string, number>;
  /** `get` calls. */
  reads(): number;
  /** Calls that write: `set`, `update`, `rotate`, `destroy`. */
  writes(): number;
  reset(): void;
}

/**
 * Wraps a real store so every call to it is counted: for tests of the store
 * calls a request costs (the README's table of store calls).
 *
 * @example
 * const { store, counts } = countStoreCalls(new MemoryStore());
 * // ...one request...
 * expect([counts.reads(), counts.writes()]).toEqual([1, 0]);
 */
export function countStoreCalls<S extends Store>(inner: S): { store: S; counts: StoreCallCounts } {
  const calls: Record<string, number> = {};
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        calls[prop] = (calls[prop] ?? 0) + 1;
        return value.apply(target, args);
      };
    },
  });
  const n = (name: string) => calls[name] ?? 0;
  const counts: StoreCallCounts = {
    calls,
    reads: () => n('get'),
    writes: () => n('set') + n('update') + n('rotate') + n('destroy'),
    reset: () => {
      for (const key of Object.keys(calls)) delete calls[key];
    },
  };
  return { store, counts };
}

export { ControlledStore, testAdapter, testScenarios, type ScenarioServer, type ScenarioTarget } from './adapter-suite.js';
export { HttpClient } from './http-client.js';
