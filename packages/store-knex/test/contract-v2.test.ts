import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { emptyRecord, isRotatedMark, StoreError, type SessionRecord } from '@sess/core';
import { createSessionTable, KnexStore } from '../src/index.js';
import { DIALECTS, uniqueTable } from './dialects.js';

const record = (data: SessionRecord['data'] = {}, user?: string): SessionRecord => ({ ...emptyRecord(1), data, ...(user ? { user } : {}) });

/** A user id of exactly 512 characters (UTF-16 units, as core counts them), with multibyte and astral characters. */
const LONGEST_USER = `u-${'é'.repeat(200)}${'😀'.repeat(100)}${'x'.repeat(110)}`;

/** The statements knex sends while `work` runs (the better-sqlite3 write paths run natively and are not seen). */
async function statementsOf(knex: Knex, work: () => Promise<unknown>): Promise<Array<{ sql: string; tx?: string }>> {
  const seen: Array<{ sql: string; tx?: string }> = [];
  const listener = (q: { sql: string; __knexTxId?: string }) => seen.push({ sql: q.sql, tx: q.__knexTxId });
  knex.on('query', listener);
  try {
    await work();
  } finally {
    knex.off('query', listener);
  }
  return seen;
}

for (const dialect of DIALECTS) {
  const available = await dialect.available();
  const sqlite = dialect.name.startsWith('sqlite');

  describe.skipIf(!available)(`KnexStore contract v2 on ${dialect.name}`, () => {
    let knex: Knex;
    let store: KnexStore;
    const tables: string[] = [];
    const newTable = () => {
      const name = uniqueTable();
      tables.push(name);
      return name;
    };
    const rowOf = (id: string, table = store.tableName) => knex(table).where('id', id).first();
    /** A row's `data` parsed (pg hands jsonb over parsed already). */
    const dataOf = (row: { data: unknown }): unknown => (typeof row.data === 'string' ? JSON.parse(row.data) : row.data);
    /** The row under `id` holds a rotated mark: the mark's JSON, no user, expiring within `ttl` seconds. */
    const expectMark = async (id: string, ttl = 60, table = store.tableName) => {
      const row = await rowOf(id, table);
      expect(row).toBeDefined();
      expect(isRotatedMark(dataOf(row))).toBe(true);
      expect(row.user_id).toBeNull();
      const left = Number(row.expires_at) - Date.now();
      expect(left).toBeGreaterThan(ttl * 1000 - 10_000);
      expect(left).toBeLessThanOrEqual(ttl * 1000);
    };

    beforeAll(async () => {
      knex = dialect.connect();
      store = new KnexStore({ knex, tableName: newTable(), createTable: true, pruneInterval: 0 });
    });
    afterAll(async () => {
      await store?.close();
      for (const table of tables) await knex.schema.dropTableIfExists(table);
      await knex.destroy();
      dialect.dispose?.();
    });

    describe('versions', () => {
      it('is the raw text of data as stored (jsonb: its canonical text), equal across reads of an unchanged row', async () => {
        // Keys out of jsonb's order, so JSON.stringify's text and jsonb's differ on PostgreSQL.
        await store.set('v-raw', record({ zz: 1, a: 'x', mm: [1, 2] }, 'alice'), 60);
        const first = await store.get('v-raw');
        const second = await store.get('v-raw');
        expect(typeof first!.version).toBe('string');
        expect(second!.version).toBe(first!.version);
        const raw = dialect.name === 'postgres' ? (await knex.raw(`select data::text as t from ?? where id = ?`, [store.tableName, 'v-raw'])).rows[0].t : (await rowOf('v-raw')).data;
        expect(first!.version).toBe(raw);
      });

      it('update returns the record and the version the next read gives, and the chain stays on the compare-and-set step', async () => {
        await store.set('v-chain', record({ zz: 0, a: 0 }), 60);
        let held = (await store.get('v-chain'))!;
        for (let i = 1; i <= 3; i++) {
          const result = await store.update('v-chain', { ifExists: true, increment: { zz: 1 }, put: { [`k${i}`]: i }, lastSeen: 10 + i }, 60, held);
          expect(result).toMatchObject({ existed: true, written: true });
          const read = (await store.get('v-chain'))!;
          expect(result.version).toBe(read.version);
          expect(result.record).toEqual(read.record);
          // A version that matches the stored text makes the store write from the record the caller holds:
          // hand it a record that differs (only the caller could know) to see that the step was taken.
          held = { record: { ...result.record!, data: { ...result.record!.data, marker: `held-${i}` } }, version: result.version! };
        }
        expect((await store.get('v-chain'))?.record.data).toMatchObject({ zz: 3, k3: 3, marker: 'held-2' });
      });

      it('a stale version falls back to the locked read: no write is lost', async () => {
        await store.set('v-stale', record({ n: 0 }), 60);
        const held = (await store.get('v-stale'))!;
        await store.update('v-stale', { ifExists: true, increment: { n: 1 }, lastSeen: 2 }, 60); // another request
        const fake = { record: { ...held.record, data: { n: 100 } }, version: held.version };
        const result = await store.update('v-stale', { ifExists: true, increment: { n: 1 }, lastSeen: 3 }, 60, fake);
        expect(result.record?.data.n).toBe(2); // from the stored record, not the stale one
        expect((await store.get('v-stale'))?.record.data.n).toBe(2);
      });

      it('an expired row never matches a version: the change finds no session', async () => {
        await store.set('v-expired', record({ n: 1 }), 60);
        const held = (await store.get('v-expired'))!;
        await knex(store.tableName).where('id', 'v-expired').update({ expires_at: Date.now() - 1 });
        const result = await store.update('v-expired', { ifExists: true, increment: { n: 1 }, lastSeen: 2 }, 60, held);
        expect(result).toMatchObject({ existed: false, written: false });
        expect(await store.get('v-expired')).toBeUndefined();
      });

      if (!sqlite) it('the compare-and-set step is one UPDATE statement; a stale version takes the locking transaction', async () => {
        await store.set('v-one', record({ n: 0 }), 60);
        const held = (await store.get('v-one'))!;
        const fast = await statementsOf(knex, () => store.update('v-one', { ifExists: true, increment: { n: 1 }, lastSeen: 2 }, 60, held));
        expect(fast.map((s) => s.sql.split(' ')[0]!.toLowerCase())).toEqual(['update']);
        const slow = await statementsOf(knex, () => store.update('v-one', { ifExists: true, increment: { n: 1 }, lastSeen: 3 }, 60, held));
        expect(slow.map((s) => s.sql)).toEqual(expect.arrayContaining([expect.stringMatching(/for update$/i)]));
        expect((await store.get('v-one'))?.record.data.n).toBe(2);
      });
    });

    describe('rotate', () => {
      it('moves the record to the new id with the change applied, in one step, and keeps the user index right', async () => {
        await store.set('r-old', record({ a: 1 }, 'rita'), 60);
        const held = (await store.get('r-old'))!;
        const result = await store.rotate('r-old', 'r-new', { put: { b: 2 }, lastSeen: 5 }, 120, held);
        expect(result).toMatchObject({ existed: true, written: true, consumedTokens: [], consumedFlash: {} });
        expect(result.record?.data).toEqual({ a: 1, b: 2 });
        await expectMark('r-old'); // min(60 s, 120 s)
        expect(await store.get('r-old')).toBeUndefined();
        const moved = (await store.get('r-new'))!;
        expect(moved).toEqual({ record: result.record, version: result.version });
        expect((await rowOf('r-new')).user_id).toBe('rita');
        expect(Number((await rowOf('r-new')).expires_at)).toBeGreaterThan(Date.now() + 100_000);
        expect((await store.listByUser('rita')).map((s) => s.id)).toEqual(['r-new']);
        // The version it returned takes the compare-and-set step on the new id.
        const next = await store.update('r-new', { ifExists: true, put: { c: 3 }, lastSeen: 6 }, 60, { record: { ...result.record!, data: { held: true } }, version: result.version! });
        expect(next.record?.data).toEqual({ held: true, c: 3 });
      });

      it('with reset, starts the moved record empty; consumed tokens and flash are reported', async () => {
        await store.set('r-reset', { ...record({ a: 1 }, 'ron'), tokens: ['t1', 't2'], flash: { note: 'hi' } }, 60);
        const result = await store.rotate('r-reset', 'r-reset-2', { reset: true, put: { fresh: 1 }, lastSeen: 9 }, 60);
        expect(result.record).toEqual({ data: { fresh: 1 }, flash: {}, tokens: [], createdAt: 9, lastSeen: 9 });
        expect((await rowOf('r-reset-2')).user_id).toBeNull();
        await store.set('r-consume', { ...record(), tokens: ['t1', 't2'], flash: { note: 'hi' } }, 60);
        const consumed = await store.rotate('r-consume', 'r-consume-2', { consumeTokens: ['t2', 'nope'], consumeFlash: ['note'], lastSeen: 9 }, 60);
        expect(consumed).toMatchObject({ consumedTokens: ['t2'], consumedFlash: { note: 'hi' } });
        expect((await store.get('r-consume-2'))?.record.tokens).toEqual(['t1']);
      });

      it('writes nothing when the old id is absent, destroyed or expired (no resurrection)', async () => {
        expect(await store.rotate('r-never', 'r-never-2', { put: { a: 1 }, lastSeen: 1 }, 60)).toEqual({ existed: false, written: false, consumedTokens: [], consumedFlash: {} });
        await store.set('r-destroyed', record(), 60);
        const held = (await store.get('r-destroyed'))!;
        await store.destroy('r-destroyed');
        expect(await store.rotate('r-destroyed', 'r-destroyed-2', { lastSeen: 2 }, 60, held)).toMatchObject({ existed: false, written: false });
        await store.set('r-expired', record(), 60);
        await knex(store.tableName).where('id', 'r-expired').update({ expires_at: Date.now() - 1 });
        expect(await store.rotate('r-expired', 'r-expired-2', { lastSeen: 2 }, 60)).toMatchObject({ existed: false, written: false });
        for (const id of ['r-never', 'r-never-2', 'r-destroyed', 'r-destroyed-2', 'r-expired-2']) expect(await rowOf(id)).toBeUndefined();
        // An update of the old id after the rotation finds the mark, says moved and, with ifExists, writes nothing.
        await store.set('r-after', record({ n: 1 }), 60);
        const before = (await store.get('r-after'))!;
        await store.rotate('r-after', 'r-after-2', { lastSeen: 2 }, 60);
        expect(await store.update('r-after', { ifExists: true, increment: { n: 1 }, lastSeen: 3 }, 60, before)).toEqual({
          existed: false,
          written: false,
          consumedTokens: [],
          consumedFlash: {},
          moved: true,
        });
        await expectMark('r-after');
        expect((await store.get('r-after-2'))?.record.data.n).toBe(1);
      });

      it('refuses a new id that is taken, changing nothing', async () => {
        await store.set('r-a', record({ who: 'a' }), 60);
        await store.set('r-b', record({ who: 'b' }), 60);
        const err = await store.rotate('r-a', 'r-b', { lastSeen: 2 }, 60).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreError);
        expect((err as StoreError).message).toMatch(/the new session id is already taken/);
        expect((await store.get('r-a'))?.record.data.who).toBe('a');
        expect((await store.get('r-b'))?.record.data.who).toBe('b');
        expect(dataOf(await rowOf('r-a'))).not.toHaveProperty('sess:rotated'); // no mark left behind
      });

      if (!sqlite) it('is one transaction: SELECT ... FOR UPDATE, INSERT of the new row, UPDATE of the old one into the mark', async () => {
        await store.set('r-tx', record(), 60);
        const seen = await statementsOf(knex, () => store.rotate('r-tx', 'r-tx-2', { lastSeen: 2 }, 60));
        const work = seen.filter((s) => /^(select|insert|delete|update)/i.test(s.sql));
        expect(work.map((s) => s.sql.split(' ')[0]!.toLowerCase())).toEqual(['select', 'insert', 'update']);
        expect(work[0]!.sql).toMatch(/for update$/i);
        expect(new Set(work.map((s) => s.tx)).size).toBe(1);
        expect(work[0]!.tx).toBeDefined();
      });

      // Two knex instances: two processes' worth of connections (SQLite: two connections to one file).
      if (dialect.name !== 'sqlite :memory:') it('racing updates of the old id are in the moved record or find it gone, never lost', async () => {
        const other = dialect.connect();
        try {
          const second = new KnexStore({ knex: other, tableName: store.tableName, pruneInterval: 0 });
          for (let round = 0; round < 5; round++) {
            const from = `r-race-${round}`;
            const to = `r-race-${round}-new`;
            await store.set(from, record({ n: 0 }), 60);
            const held = (await store.get(from))!;
            const bumps = Array.from({ length: 20 }, (_, i) =>
              (i % 2 ? second : store).update(from, { ifExists: true, increment: { n: 1 }, lastSeen: 2 }, 60, i % 3 ? held : undefined),
            );
            const rotation = (round % 2 ? second : store).rotate(from, to, { put: { rotated: true }, lastSeen: 3 }, 60);
            const results = await Promise.all(bumps);
            const rotated = await rotation;
            expect(rotated).toMatchObject({ existed: true, written: true });
            const included = results.filter((r) => r.written).length;
            // Every update the rotation overtook learns the session moved (core answers 409).
            expect(results.filter((r) => !r.written).every((r) => !r.existed && r.moved === true)).toBe(true);
            expect(results.filter((r) => r.written).every((r) => r.existed && r.moved === undefined)).toBe(true);
            expect(rotated.record?.data.n).toBe(included);
            expect((await store.get(to))?.record.data).toEqual({ n: included, rotated: true });
            await expectMark(from);
          }
        } finally {
          await other.destroy();
        }
      });

      if (dialect.name !== 'sqlite :memory:') it('of two racing rotations of one id, exactly one moves it', async () => {
        const other = dialect.connect();
        try {
          const second = new KnexStore({ knex: other, tableName: store.tableName, pruneInterval: 0 });
          await store.set('r-twice', record({ n: 1 }), 60);
          const results = await Promise.all([store.rotate('r-twice', 'r-twice-a', { lastSeen: 2 }, 60), second.rotate('r-twice', 'r-twice-b', { lastSeen: 2 }, 60)]);
          expect(results.filter((r) => r.written)).toHaveLength(1);
          // The loser waited for the lock and found the winner's mark.
          expect(results.find((r) => !r.written)).toEqual({ existed: false, written: false, consumedTokens: [], consumedFlash: {}, moved: true });
          const rows = await knex(store.tableName).whereIn('id', ['r-twice', 'r-twice-a', 'r-twice-b']);
          expect(rows.map((r: { id: string }) => r.id).sort()).toEqual(['r-twice', results[0]!.written ? 'r-twice-a' : 'r-twice-b']);
          await expectMark('r-twice');
        } finally {
          await other.destroy();
        }
      });
    });

    describe('rotated marks', () => {
      it('the mark lives min(60 s, ttl): a rotation with a short ttl leaves a short-lived mark', async () => {
        await store.set('m-long', record(), 3600);
        await store.rotate('m-long', 'm-long-2', { lastSeen: 2 }, 3600);
        await expectMark('m-long', 60);
        await store.set('m-short', record(), 60);
        await store.rotate('m-short', 'm-short-2', { lastSeen: 2 }, 10);
        await expectMark('m-short', 10);
        expect(Number((await rowOf('m-short-2')).expires_at)).toBeGreaterThan(Date.now() + 5_000);
      });

      it('is the mark JSON in data (PostgreSQL: a jsonb object with the key, queryable in SQL)', async () => {
        await store.set('m-json', record({ a: 1 }, 'jay'), 60);
        await store.rotate('m-json', 'm-json-2', { lastSeen: 2 }, 60);
        expect(dataOf(await rowOf('m-json'))).toEqual({ 'sess:rotated': true });
        if (dialect.name === 'postgres') {
          const { rows } = await knex.raw(`select jsonb_typeof(data) as t, data->'sess:rotated' is not null as has from ?? where id = ?`, [store.tableName, 'm-json']);
          expect(rows[0]).toEqual({ t: 'object', has: true });
        }
      });

      it('is no session: get reads it as absent, listByUser never lists it, destroyByUser neither counts nor deletes it', async () => {
        await store.set('m-user', record({ a: 1 }, 'mia'), 60);
        await store.set('m-user-other', record({ b: 1 }, 'mia'), 60);
        await store.rotate('m-user', 'm-user-2', { lastSeen: 2 }, 60);
        expect(await store.get('m-user')).toBeUndefined();
        expect((await store.listByUser('mia')).map((s) => s.id).sort()).toEqual(['m-user-2', 'm-user-other']);
        expect(await store.destroyByUser('mia', 'm-user-other')).toBe(1); // m-user-2 only
        expect((await store.listByUser('mia')).map((s) => s.id)).toEqual(['m-user-other']);
        await expectMark('m-user'); // a late write of the old id still learns it moved
        expect(await store.update('m-user', { ifExists: true, put: { late: 1 }, lastSeen: 3 }, 60)).toMatchObject({ existed: false, written: false, moved: true });
      });

      it('makes update (with or without a held version) and rotate of the old id answer moved, writing nothing', async () => {
        await store.set('m-upd', record({ n: 1 }, 'max'), 60);
        const held = (await store.get('m-upd'))!;
        await store.rotate('m-upd', 'm-upd-2', { lastSeen: 2 }, 60);
        const moved = { existed: false, written: false, consumedTokens: [], consumedFlash: {}, moved: true };
        expect(await store.update('m-upd', { ifExists: true, increment: { n: 1 }, consumeTokens: ['t'], lastSeen: 3 }, 60, held)).toEqual(moved);
        expect(await store.update('m-upd', { ifExists: true, increment: { n: 1 }, lastSeen: 3 }, 60)).toEqual(moved);
        expect(await store.rotate('m-upd', 'm-upd-3', { lastSeen: 3 }, 60, held)).toEqual(moved);
        expect(await store.rotate('m-upd', 'm-upd-4', { lastSeen: 3 }, 60)).toEqual(moved);
        for (const id of ['m-upd-3', 'm-upd-4']) expect(await rowOf(id)).toBeUndefined();
        await expectMark('m-upd');
        expect((await store.get('m-upd-2'))?.record.data.n).toBe(1);
      });

      it('an update without ifExists creates a record over the mark, as over an absent id', async () => {
        await store.set('m-over', record({ old: true }), 60);
        await store.rotate('m-over', 'm-over-2', { lastSeen: 2 }, 60);
        const result = await store.update('m-over', { put: { fresh: 1 }, user: 'olga', lastSeen: 7 }, 120);
        expect(result).toMatchObject({ existed: false, written: true });
        expect(result.moved).toBeUndefined();
        expect(result.record).toEqual({ data: { fresh: 1 }, flash: {}, tokens: [], createdAt: 7, lastSeen: 7, user: 'olga' });
        expect(await store.get('m-over')).toEqual({ record: result.record, version: result.version });
        const row = await rowOf('m-over');
        expect(row.user_id).toBe('olga');
        expect(Number(row.expires_at)).toBeGreaterThan(Date.now() + 100_000);
        expect((await store.listByUser('olga')).map((s) => s.id)).toEqual(['m-over']);
        // Now a session again: updates apply to it, no longer moved.
        expect(await store.update('m-over', { ifExists: true, put: { more: 2 }, lastSeen: 8 }, 120)).toMatchObject({ existed: true, written: true });
      });

      it('an expired mark is nothing: no moved, an update without ifExists writes over it, prune deletes it and counts it', async () => {
        const table = newTable();
        const pruner = new KnexStore({ knex, tableName: table, createTable: true, pruneInterval: 0 });
        for (const id of ['m-exp-a', 'm-exp-b', 'm-live']) {
          await pruner.set(id, record(), 60);
          await pruner.rotate(id, `${id}-new`, { lastSeen: 2 }, 60);
        }
        await knex(table).whereIn('id', ['m-exp-a', 'm-exp-b']).update({ expires_at: Date.now() - 1 });
        const gone = await pruner.update('m-exp-a', { ifExists: true, put: { x: 1 }, lastSeen: 3 }, 60);
        expect(gone).toEqual({ existed: false, written: false, consumedTokens: [], consumedFlash: {} });
        expect(await pruner.rotate('m-exp-a', 'm-exp-a-2', { lastSeen: 3 }, 60)).toEqual(gone);
        expect(await pruner.prune()).toBe(2);
        expect((await knex(table).select('id')).map((r: { id: string }) => r.id).sort()).toEqual(['m-exp-a-new', 'm-exp-b-new', 'm-live', 'm-live-new']);
        await expectMark('m-live', 60, table);
        await pruner.close();
      });

      it('destroy deletes a mark: the id is then plainly absent', async () => {
        await store.set('m-del', record(), 60);
        await store.rotate('m-del', 'm-del-2', { lastSeen: 2 }, 60);
        await store.destroy('m-del');
        expect(await rowOf('m-del')).toBeUndefined();
        const result = await store.update('m-del', { ifExists: true, put: { x: 1 }, lastSeen: 3 }, 60);
        expect(result).toEqual({ existed: false, written: false, consumedTokens: [], consumedFlash: {} });
      });

      it('any object with the own key "sess:rotated" is a mark (a nonce in it is fine); a record holding that key in its data is not', async () => {
        await knex(store.tableName).insert({ id: 'm-nonce', data: JSON.stringify({ 'sess:rotated': true, nonce: 'abc' }), expires_at: Date.now() + 60_000, user_id: null });
        expect(await store.get('m-nonce')).toBeUndefined();
        expect(await store.update('m-nonce', { ifExists: true, put: { x: 1 }, lastSeen: 3 }, 60)).toMatchObject({ existed: false, written: false, moved: true });
        await store.set('m-inner', record({ 'sess:rotated': true }), 60);
        expect((await store.get('m-inner'))?.record.data).toEqual({ 'sess:rotated': true });
        expect(await store.update('m-inner', { ifExists: true, put: { x: 1 }, lastSeen: 3 }, 60)).toMatchObject({ existed: true, written: true });
      });

      it('the insert and the mark commit together: when the mark cannot be written, the new row is rolled back and the old one kept', async () => {
        // A table that refuses the mark (a CHECK on data): the rotation's last statement fails.
        const table = newTable();
        if (dialect.name === 'postgres') {
          await knex.raw(`create table ?? (id varchar(64) primary key, data jsonb not null check (data->'sess:rotated' is null), expires_at bigint not null, user_id varchar(512))`, [table]);
        } else {
          await knex.raw(`create table ?? (id varchar(64) primary key, data text not null check (data not like '%sess:rotated%'), expires_at bigint not null, user_id varchar(512))`, [table]);
        }
        const strict = new KnexStore({ knex, tableName: table, pruneInterval: 0 });
        await strict.set('c-old', record({ n: 1 }, 'cara'), 60);
        const err = await strict.rotate('c-old', 'c-new', { put: { m: 1 }, lastSeen: 2 }, 60).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreError);
        expect(err).toMatchObject({ code: 'E_STORE_REFUSED' });
        expect(await rowOf('c-new', table)).toBeUndefined();
        expect((await strict.get('c-old'))?.record.data).toEqual({ n: 1 });
        expect((await strict.listByUser('cara')).map((s) => s.id)).toEqual(['c-old']);
      });

      // Two knex instances: two processes' worth of connections (SQLite: two connections to one file).
      if (dialect.name !== 'sqlite :memory:') it('updates without ifExists racing a rotation: each lands in the moved record or in a new record over the mark, none lost', async () => {
        const other = dialect.connect();
        try {
          const second = new KnexStore({ knex: other, tableName: store.tableName, pruneInterval: 0 });
          for (let round = 0; round < 4; round++) {
            const from = `m-race-${round}`;
            const to = `${from}-new`;
            await store.set(from, record({ n: 0 }), 60);
            const held = (await store.get(from))!;
            const bumps = Array.from({ length: 20 }, (_, i) =>
              (i % 2 ? second : store).update(from, { increment: { n: 1 }, lastSeen: 2 }, 60, i % 3 ? held : undefined),
            );
            const rotated = await (round % 2 ? second : store).rotate(from, to, { lastSeen: 3 }, 60);
            const results = await Promise.all(bumps);
            expect(rotated).toMatchObject({ existed: true, written: true });
            expect(results.every((r) => r.written && r.moved === undefined)).toBe(true);
            const inMoved = rotated.record!.data.n as number;
            // The first update after the rotation found the mark and created a record over it; the rest found that record.
            const overMark = results.filter((r) => !r.existed).length;
            expect(overMark).toBe(inMoved < 20 ? 1 : 0);
            if (overMark === 0) await expectMark(from);
            else expect((await store.get(from))?.record.data.n).toBe(20 - inMoved);
          }
        } finally {
          await other.destroy();
        }
      });
    });

    describe('user ids up to 512 characters', () => {
      it('holds a 512-character user id through set, update, rotate, listByUser and destroyByUser', async () => {
        expect(LONGEST_USER.length).toBe(512);
        await store.set('u-long', record({}, LONGEST_USER), 60);
        expect((await rowOf('u-long')).user_id).toBe(LONGEST_USER);
        await store.update('u-long2', { user: LONGEST_USER, lastSeen: 2 }, 60);
        await store.rotate('u-long', 'u-long3', { lastSeen: 3 }, 60);
        expect((await store.listByUser(LONGEST_USER)).map((s) => s.id).sort()).toEqual(['u-long2', 'u-long3']);
        expect((await store.get('u-long3'))?.record.user).toBe(LONGEST_USER);
        expect(await store.destroyByUser(LONGEST_USER, 'u-long2')).toBe(1);
        expect((await store.listByUser(LONGEST_USER)).map((s) => s.id)).toEqual(['u-long2']);
      });

      it('createSessionTable makes user_id varchar(512)', async () => {
        const table = newTable();
        await createSessionTable(knex, table);
        const info = await knex(table).columnInfo('user_id');
        expect(Number(info.maxLength)).toBe(512);
      });

      // SQLite does not enforce varchar lengths: an old table there holds any id as it is.
      if (!sqlite) {
        /** The schema before contract v2: user_id varchar(255). */
        const oldTable = async () => {
          const table = newTable();
          await knex.schema.createTable(table, (t) => {
            if (dialect.name === 'mariadb') {
              t.charset('utf8mb4');
              t.collate('utf8mb4_bin');
            }
            t.string('id', 64).primary();
            if (dialect.name === 'postgres') t.jsonb('data').notNullable();
            else t.text('data', 'longtext').notNullable();
            t.bigInteger('expires_at').notNullable().index(`${table}_expires_at_idx`);
            t.string('user_id', 255).nullable().index(`${table}_user_id_idx`);
          });
          return table;
        };

        it('createTable: true widens an older table whose user_id is varchar(255), keeping rows, index and collation', async () => {
          const table = await oldTable();
          await knex(table).insert({ id: 'kept', data: JSON.stringify(record({}, 'Bob')), expires_at: Date.now() + 60_000, user_id: 'Bob' });
          const upgraded = new KnexStore({ knex, tableName: table, createTable: true, pruneInterval: 0 });
          await upgraded.set('long', record({}, LONGEST_USER), 60);
          expect(Number((await knex(table).columnInfo('user_id')).maxLength)).toBe(512);
          expect((await upgraded.listByUser(LONGEST_USER)).map((s) => s.id)).toEqual(['long']);
          expect((await upgraded.listByUser('Bob')).map((s) => s.id)).toEqual(['kept']);
          expect(await upgraded.listByUser('bob')).toEqual([]); // still case-sensitive
          if (dialect.name === 'mariadb') {
            const [rows] = await knex.raw(`select collation_name as c, is_nullable as n from information_schema.columns where table_schema = database() and table_name = ? and column_name = 'user_id'`, [table]);
            expect(rows[0]).toEqual({ c: 'utf8mb4_bin', n: 'YES' });
          }
          // A second start finds it wide already and leaves it alone.
          await createSessionTable(knex, table);
        });

        it('createSessionTable widens it too (the migration path)', async () => {
          const table = await oldTable();
          await createSessionTable(knex, table);
          expect(Number((await knex(table).columnInfo('user_id')).maxLength)).toBe(512);
        });

        if (dialect.name === 'postgres') it('when the database refuses to widen, createSessionTable says so and a store warns and goes on', async () => {
          const table = await oldTable();
          const view = `${table}_v`;
          await knex.raw('create view ?? as select user_id from ??', [view, table]); // PostgreSQL refuses to alter a column a view uses
          const warnings: Error[] = [];
          const onWarning = (w: Error) => warnings.push(w);
          process.on('warning', onWarning);
          try {
            await expect(createSessionTable(knex, table)).rejects.toThrow(new RegExp(`^\\[sess\\] could not widen ${table}\\.user_id from 255 to 512 characters: .*Widen it in a migration`));
            const stuck = new KnexStore({ knex, tableName: table, createTable: true, pruneInterval: 0 });
            await stuck.set('fits', record({}, 'short-user'), 60);
            expect((await stuck.listByUser('short-user')).map((s) => s.id)).toEqual(['fits']);
            await expect(stuck.set('long', record({}, LONGEST_USER), 60)).rejects.toMatchObject({ code: 'E_STORE_REFUSED' });
            await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
            expect(warnings.map((w) => (w as Error & { code?: string }).code)).toEqual(['SESS_KNEX_USER_ID']);
          } finally {
            process.off('warning', onWarning);
            await knex.raw('drop view ??', [view]);
          }
        });

        it('without createTable, an older table refuses a longer user id with E_STORE_REFUSED naming the fix', async () => {
          const table = await oldTable();
          const narrow = new KnexStore({ knex, tableName: table, pruneInterval: 0 });
          const err = await narrow.set('too-long', record({}, 'v'.repeat(300)), 60).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(StoreError);
          expect(err).toMatchObject({ code: 'E_STORE_REFUSED', status: 500 });
          expect((err as StoreError).message).toMatch(/the database refused the value/);
          expect((err as StoreError).message).toContain(`createSessionTable(knex, "${table}") widens an older table`);
          expect((err as StoreError).message).not.toContain('vvvvvvvv'); // no values in our message
          expect(await narrow.get('too-long')).toBeUndefined();
        });
      }
    });

    describe('refusals', () => {
      /** A table whose user_id the database enforces at 16 characters (SQLite: a CHECK constraint). */
      const strictTable = async () => {
        const table = newTable();
        if (sqlite) {
          await knex.raw(`create table ?? (id varchar(64) primary key, data text not null, expires_at bigint not null, user_id varchar(16) check (length(user_id) <= 16))`, [table]);
        } else {
          await knex.schema.createTable(table, (t) => {
            t.string('id', 64).primary();
            t.text('data').notNullable();
            t.bigInteger('expires_at').notNullable();
            t.string('user_id', 16).nullable();
          });
        }
        return new KnexStore({ knex, tableName: table, pruneInterval: 0 });
      };

      it('a value the database refuses is a StoreError E_STORE_REFUSED (500) from set, update and rotate', async () => {
        const strict = await strictTable();
        const long = 'w'.repeat(40);
        const attempts = [
          () => strict.set('s1', record({}, long), 60),
          () => strict.update('s2', { user: long, lastSeen: 1 }, 60),
          async () => {
            await strict.set('s3', record(), 60);
            const held = (await strict.get('s3'))!;
            return strict.update('s3', { ifExists: true, user: long, lastSeen: 2 }, 60, held);
          },
          async () => {
            await strict.set('s4', record(), 60);
            return strict.rotate('s4', 's4-new', { user: long, lastSeen: 2 }, 60);
          },
        ];
        for (const attempt of attempts) {
          const err = await attempt().catch((e: unknown) => e);
          expect(err).toBeInstanceOf(StoreError);
          expect(err).toMatchObject({ code: 'E_STORE_REFUSED', status: 500 });
          expect((err as StoreError).cause).toBeInstanceOf(Error);
        }
        // Nothing was half-done: s4 is still there, s4-new is not, s1 and s2 were not written.
        expect(await strict.get('s4')).toBeDefined();
        for (const id of ['s1', 's2', 's4-new']) expect(await strict.get(id)).toBeUndefined();
        // And the store still works for values that fit.
        await strict.set('s5', record({}, 'short'), 60);
        expect((await strict.listByUser('short')).map((s) => s.id)).toEqual(['s5']);
      });
    });

    if (dialect.name === 'sqlite file') {
      describe('WAL', () => {
        it('switches a file database to WAL on first use; sqliteWal: false leaves the journal mode alone', async () => {
          const { mkdtempSync, rmSync } = await import('node:fs');
          const { tmpdir } = await import('node:os');
          const { join } = await import('node:path');
          const dir = mkdtempSync(join(tmpdir(), 'sess-wal-'));
          const { default: knexFactory } = await import('knex');
          const open = (file: string) => knexFactory({ client: 'better-sqlite3', connection: { filename: join(dir, file) }, useNullAsDefault: true });
          const a = open('wal.db');
          const b = open('plain.db');
          try {
            const walStore = new KnexStore({ knex: a, createTable: true, pruneInterval: 0 });
            const plainStore = new KnexStore({ knex: b, createTable: true, pruneInterval: 0, sqliteWal: false });
            await walStore.set('x', record(), 60);
            await plainStore.set('x', record(), 60);
            expect((await a.raw('pragma journal_mode'))[0].journal_mode).toBe('wal');
            expect((await b.raw('pragma journal_mode'))[0].journal_mode).toBe('delete');
          } finally {
            await a.destroy();
            await b.destroy();
            rmSync(dir, { recursive: true, force: true });
          }
        });
      });
    }
  });
}
