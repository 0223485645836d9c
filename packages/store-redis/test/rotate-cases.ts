/**
 * The store's own cases for `rotate`, user ids of 512 characters and
 * tombstones, run on a single node (redis-store.test.ts) and on a 3-master
 * Cluster (cluster.test.ts), where `rotate` takes different paths: one script
 * over both keys, or tombstone + SET NX + delete across slots.
 */
import { randomBytes } from 'node:crypto';
import { applyChange, emptyRecord, StoreError } from '@sess/core';
import type { SessionChange, SessionRecord } from '@sess/core';
import type { RedisClient, RedisStore } from '@sess/store-redis';
import { expect, it, vi } from 'vitest';

export interface RotateCaseSetup {
  /** A store with a prefix of its own, and a second store on another connection with the same prefix. */
  stores(name: string): Promise<{ store: RedisStore; other: RedisStore }>;
  /** A client for raw commands (same Redis). */
  raw(): RedisClient;
}

const newId = () => randomBytes(16).toString('base64url');

/** A user id of exactly 512 UTF-16 code units, with quotes, backslashes, glob and key separators, non-ASCII and astral characters. */
export const LONG_USER = (() => {
  const head = 'u"\\:*?[]{}ü🎉/ ';
  const id = head + 'é'.repeat(512 - head.length);
  if (id.length !== 512) throw new Error('LONG_USER must be 512 characters');
  return id;
})();

export function rotateCases(setup: RotateCaseSetup): void {
  it('rotate moves the record to the new id with the change applied, deletes the old id and moves the user index entry', async () => {
    const { store } = await setup.stores('rot-move');
    const raw = setup.raw();
    const [oldId, id, otherId] = [newId(), newId(), newId()];
    const old: SessionRecord = { ...emptyRecord(1), user: 'u', meta: { ip: '::1' }, data: { a: 1 }, tokens: ['t1'], flash: { f: 'x' } };
    await store.set(oldId, old, 60);
    await store.set(otherId, { ...emptyRecord(1), user: 'u' }, 60);
    const change: SessionChange = { put: { b: 2 }, consumeTokens: ['t1'], addTokens: ['t2'], consumeFlash: ['f'], lastSeen: 5 };
    const moved = await store.rotate(oldId, id, change, 60);
    const want = applyChange(old, { ...change, ifExists: true });
    expect(moved).toEqual({ existed: true, written: true, consumedTokens: ['t1'], consumedFlash: { f: 'x' }, record: want.record, version: await raw.get(store.key(id)) });
    expect(await store.get(id)).toEqual({ record: want.record, version: moved.version });
    expect(await store.get(oldId)).toBeUndefined();
    expect(await raw.exists(store.key(oldId))).toBe(0);
    expect(await raw.pttl(store.key(id))).toBeGreaterThan(59_000);
    expect((await raw.smembers(store.userKey('u'))).sort()).toEqual([id, otherId].sort());
    expect((await store.listByUser('u')).map((s) => s.id).sort()).toEqual([id, otherId].sort());
  });

  it('rotate with reset starts from an empty record; the user leaves the index, or a new user enters it', async () => {
    const { store } = await setup.stores('rot-reset');
    const raw = setup.raw();
    const [a, b, c, d] = [newId(), newId(), newId(), newId()];
    await store.set(a, { ...emptyRecord(1), user: 'u', meta: { ip: '::1' }, data: { secret: 1 }, tokens: ['t'] }, 60);
    const plain = await store.rotate(a, b, { reset: true, lastSeen: 9 }, 60);
    expect(plain).toMatchObject({ existed: true, written: true, record: emptyRecord(9) });
    expect((await store.get(b))?.record).toEqual(emptyRecord(9));
    expect(await raw.smembers(store.userKey('u'))).toEqual([]);

    await store.set(c, { ...emptyRecord(1), user: 'u', data: { secret: 1 } }, 60);
    const signedIn = await store.rotate(c, d, { reset: true, user: 'v', put: { hello: 1 }, lastSeen: 9 }, 60);
    expect(signedIn.record).toEqual({ ...emptyRecord(9), user: 'v', data: { hello: 1 } });
    expect(await raw.smembers(store.userKey('u'))).toEqual([]);
    expect(await raw.smembers(store.userKey('v'))).toEqual([d]);
  });

  it('rotate of an absent, destroyed, corrupt or tombstoned id writes nothing, with or without a held copy (no resurrection)', async () => {
    const { store } = await setup.stores('rot-absent');
    const raw = setup.raw();
    const nothing = { existed: false, written: false, consumedTokens: [], consumedFlash: {} };
    const change: SessionChange = { put: { back: true }, user: 'u', lastSeen: 2 };

    const absent = newId();
    const to1 = newId();
    expect(await store.rotate(absent, to1, change, 60)).toEqual(nothing);
    expect(await raw.exists(store.key(to1))).toBe(0);

    const destroyed = newId();
    const to2 = newId();
    await store.set(destroyed, emptyRecord(1), 60);
    const held = (await store.get(destroyed))!;
    await store.destroy(destroyed);
    expect(await store.rotate(destroyed, to2, change, 60, held)).toEqual(nothing);
    expect(await store.rotate(destroyed, to2, change, 60)).toEqual(nothing);
    expect(await raw.exists(store.key(to2))).toBe(0);
    expect(await raw.exists(store.key(destroyed))).toBe(0);

    for (const text of ['[1,2', '{"sess:rotated":"planted"}']) {
      const id = newId();
      const to = newId();
      await raw.set(store.key(id), text, 'PX', 60_000);
      expect(await store.rotate(id, to, change, 60)).toEqual(nothing);
      expect(await raw.exists(store.key(to))).toBe(0);
      expect(await raw.get(store.key(id))).toBe(text); // left as it was
    }
    expect(await raw.exists(store.userKey('u'))).toBe(0);
  });

  it('rotate takes the held copy while it is current and the stored record when it is not: the same outcome either way', async () => {
    const { store } = await setup.stores('rot-held');
    const change: SessionChange = { increment: { n: 1 }, addTokens: ['t'], lastSeen: 3 };

    const [a, a2] = [newId(), newId()];
    await store.set(a, { ...emptyRecord(1), data: { n: 1 } }, 60);
    const current = (await store.get(a))!;
    const fast = await store.rotate(a, a2, change, 60, current);
    expect(fast.record).toEqual(applyChange(current.record, change).record);
    expect(await store.get(a2)).toEqual({ record: fast.record, version: fast.version });

    const [b, b2] = [newId(), newId()];
    await store.set(b, { ...emptyRecord(1), data: { n: 1 } }, 60);
    const stale = (await store.get(b))!;
    await store.update(b, { ifExists: true, put: { meanwhile: true }, lastSeen: 2 }, 60);
    const slow = await store.rotate(b, b2, change, 60, stale);
    expect(slow.record?.data).toEqual({ n: 2, meanwhile: true });
    expect(await store.get(b2)).toEqual({ record: slow.record, version: slow.version });
    expect(await store.get(b)).toBeUndefined();
  });

  it('the version rotate returns is the expected of the next update, which then takes the compare-and-set path', async () => {
    const { store } = await setup.stores('rot-next');
    const raw = setup.raw();
    const [a, b] = [newId(), newId()];
    await store.set(a, emptyRecord(1), 60);
    const moved = await store.rotate(a, b, { put: { x: 1 }, lastSeen: 2 }, 60, await store.get(a));
    const update = vi.spyOn(store.client as unknown as { sessStoreUpdate: () => Promise<unknown> }, 'sessStoreUpdate');
    try {
      const next = await store.update(b, { ifExists: true, put: { y: 2 }, lastSeen: 3 }, 60, { record: moved.record!, version: moved.version! });
      expect(update).not.toHaveBeenCalled(); // the compare-and-set script swapped it
      expect(next.record?.data).toEqual({ x: 1, y: 2 });
      expect(next.version).toBe(await raw.get(store.key(b)));
    } finally {
      update.mockRestore();
    }
  });

  it('rotate refuses a new id that is taken and changes nothing, with or without a held copy', async () => {
    const { store } = await setup.stores('rot-taken');
    const [a, taken] = [newId(), newId()];
    await store.set(a, { ...emptyRecord(1), user: 'u', data: { mine: 1 } }, 60);
    await store.set(taken, { ...emptyRecord(1), data: { theirs: 1 } }, 60);
    const before = await store.get(a);
    const takenBefore = await store.get(taken);
    for (const held of [undefined, before]) {
      const err = await store.rotate(a, taken, { put: { x: 1 }, lastSeen: 2 }, 60, held).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as Error).message).toMatch(/new id is already taken\. Nothing was changed/);
      expect(await store.get(a)).toEqual(before);
      expect(await store.get(taken)).toEqual(takenBefore);
    }
    expect(await setup.raw().smembers(store.userKey('u'))).toEqual([a]);
  });

  it('rotate racing overlapping updates of the old id: every update that reports a write is in the moved record, the others find the id gone', async () => {
    const { store, other } = await setup.stores('rot-race');
    const raw = setup.raw();
    let included = 0;
    let refused = 0;
    for (let round = 0; round < 25; round++) {
      const [oldId, id] = [newId(), newId()];
      await store.set(oldId, { ...emptyRecord(1), user: 'u', data: { n: 0 } }, 60);
      const held = (await store.get(oldId))!;
      const updates: Array<Promise<{ written: boolean; existed: boolean }>> = [];
      let rotation: Promise<unknown> | undefined;
      for (let i = 0; i < 12; i++) {
        // two connections, half of the updates with the held (soon stale) copy
        const via = i % 2 ? store : other;
        updates.push(via.update(oldId, { ifExists: true, increment: { n: 1 }, lastSeen: 2 + i }, 60, i % 3 ? held : undefined));
        if (i === round % 12) rotation = store.rotate(oldId, id, { put: { rotated: true }, lastSeen: 100 }, 60, held);
      }
      const [outcomes, moved] = await Promise.all([Promise.all(updates), rotation]);
      const written = outcomes.filter((o) => o.written).length;
      expect(outcomes.every((o) => o.written === o.existed)).toBe(true);
      expect(moved).toMatchObject({ existed: true, written: true });
      const stored = (await store.get(id))!.record;
      expect(stored.data).toEqual({ n: written, rotated: true });
      expect(await raw.exists(store.key(oldId))).toBe(0); // no tombstone, no resurrected record
      // An update's index entry follows its write, so it may re-add the old id after the
      // rotation moved it: a stale entry, which listing drops (and which never lists).
      expect((await store.listByUser('u')).map((s) => s.id)).toContain(id);
      expect((await store.listByUser('u')).map((s) => s.id)).not.toContain(oldId);
      expect(await raw.sismember(store.userKey('u'), oldId)).toBe(0);
      included += written;
      refused += outcomes.length - written;
    }
    // the rounds put the rotation at every position: some updates land before it, some after
    expect(included).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });

  it('two rotations of one id at once: exactly one moves it, the other finds it gone', async () => {
    const { store, other } = await setup.stores('rot-twice');
    const raw = setup.raw();
    for (let round = 0; round < 20; round++) {
      const [oldId, a, b] = [newId(), newId(), newId()];
      await store.set(oldId, { ...emptyRecord(1), data: { n: round } }, 60);
      const held = round % 2 ? await store.get(oldId) : undefined;
      const results = await Promise.all([store.rotate(oldId, a, { lastSeen: 2 }, 60, held), other.rotate(oldId, b, { lastSeen: 2 }, 60, held)]);
      expect(results.map((r) => r.written).filter(Boolean)).toHaveLength(1);
      expect((await raw.exists(store.key(a))) + (await raw.exists(store.key(b)))).toBe(1);
      expect(await raw.exists(store.key(oldId))).toBe(0);
    }
  });

  it('rotate racing destroy of the old id: the session ends up in at most one place and never comes back under the old id', async () => {
    const { store, other } = await setup.stores('rot-destroy');
    const raw = setup.raw();
    let moved = 0;
    let gone = 0;
    for (let round = 0; round < 30; round++) {
      const [oldId, id] = [newId(), newId()];
      await store.set(oldId, emptyRecord(1), 60);
      const held = (await store.get(oldId))!;
      const rotation = store.rotate(oldId, id, { put: { x: 1 }, lastSeen: 2 }, 60, round % 2 ? held : undefined);
      const destroyed = round % 3 ? other.destroy(oldId) : Promise.resolve().then(() => other.destroy(oldId));
      const [result] = await Promise.all([rotation, destroyed]);
      expect(await raw.exists(store.key(oldId))).toBe(0);
      expect(await raw.exists(store.key(id))).toBe(result.written ? 1 : 0);
      if (result.written) moved++;
      else gone++;
      // an update of the old id after both finds it gone
      expect(await store.update(oldId, { ifExists: true, put: { late: 1 }, lastSeen: 3 }, 60, held)).toMatchObject({ existed: false, written: false });
    }
    expect(moved + gone).toBe(30);
  });

  it('a tombstone left under an id reads as absent: get, update, listByUser', async () => {
    const { store } = await setup.stores('tombstone');
    const raw = setup.raw();
    const id = newId();
    const text = '{"sess:rotated":"planted"}';
    await raw.set(store.key(id), text, 'PX', 60_000);
    await raw.sadd(store.userKey('u'), id);
    expect(await store.get(id)).toBeUndefined();
    expect(await store.update(id, { ifExists: true, put: { a: 1 }, lastSeen: 2 }, 60)).toEqual({ existed: false, written: false, consumedTokens: [], consumedFlash: {} });
    expect(await raw.get(store.key(id))).toBe(text);
    expect(await store.listByUser('u')).toEqual([]);
    expect(await raw.exists(store.userKey('u'))).toBe(0);
    // without ifExists, as over an absent id: a new record
    const created = await store.update(id, { put: { a: 1 }, lastSeen: 2 }, 60);
    expect(created).toMatchObject({ existed: false, written: true, record: { ...emptyRecord(2), data: { a: 1 } } });
  });

  it('keeps a user id of 512 characters (quotes, separators, glob characters, non-ASCII) through set, update, rotate, list and destroy', async () => {
    const { store } = await setup.stores('longuser');
    const raw = setup.raw();
    const [a, b, c, d] = [newId(), newId(), newId(), newId()];
    await store.set(a, { ...emptyRecord(1), user: LONG_USER }, 60);
    await store.update(b, { user: LONG_USER, lastSeen: 1 }, 60);
    await store.set(c, emptyRecord(1), 60);
    const viaCas = await store.update(c, { ifExists: true, user: LONG_USER, lastSeen: 2 }, 60, await store.get(c));
    expect(viaCas.record?.user).toBe(LONG_USER);
    expect((await store.get(b))?.record.user).toBe(LONG_USER);
    expect(await raw.exists(store.userKey(LONG_USER))).toBe(1);
    const moved = await store.rotate(a, d, { lastSeen: 3 }, 60);
    expect(moved.record?.user).toBe(LONG_USER);
    expect((await store.listByUser(LONG_USER)).map((s) => s.id).sort()).toEqual([b, c, d].sort());
    expect(await store.destroyByUser(LONG_USER, d)).toBe(2);
    expect((await store.listByUser(LONG_USER)).map((s) => [s.id, s.record.user])).toEqual([[d, LONG_USER]]);
  });
}
