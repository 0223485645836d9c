import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import knexFactory, { type Knex } from 'knex';
import { ConfigError, emptyRecord, StoreError, type SessionRecord } from '@sess/core';
import { createSessionTable, KnexStore } from '../src/index.js';
import { sweepLockName } from '../src/knex-store.js';
import { DIALECTS, quiet, uniqueTable } from './dialects.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const record = (data: SessionRecord['data'] = {}, user?: string): SessionRecord => ({ ...emptyRecord(1), data, ...(user ? { user } : {}) });

for (const dialect of DIALECTS) {
  const available = await dialect.available();

  describe.skipIf(!available)(`KnexStore on ${dialect.name}`, () => {
    let knex: Knex;
    let store: KnexStore;
    const tables: string[] = [];
    const newTable = () => {
      const name = uniqueTable();
      tables.push(name);
      return name;
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

    it('upserts: 100 overlapping sets of one id all succeed and leave one row holding one of them', async () => {
      const id = 'overlapping-sets';
      const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => store.set(id, record({ i }), 60)));
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      const rows = await knex(store.tableName).where('id', id);
      expect(rows).toHaveLength(1);
      const got = (await store.get(id))?.record;
      expect(got!.data.i).toBeGreaterThanOrEqual(0);
      expect(got!.data.i).toBeLessThan(100);
    });

    it('creates a record once when 20 overlapping updates find it absent, losing no increment', async () => {
      const id = 'overlapping-creates';
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.update(id, { increment: { n: 1 }, lastSeen: 10 + i }, 60)));
      expect(results.filter((r) => !r.existed)).toHaveLength(1);
      expect((await store.get(id))?.record.data.n).toBe(20);
    });

    // Two knex instances are two processes' worth of connections (for SQLite, two
    // connections to one file, where only the database lock keeps writers apart).
    if (dialect.name !== 'sqlite :memory:') it('loses no increment when two store instances update one id at once', async () => {
      const other = dialect.connect();
      try {
        const second = new KnexStore({ knex: other, tableName: store.tableName, pruneInterval: 0 });
        await store.set('two-instances', record(), 60);
        const bump = (s: KnexStore) => s.update('two-instances', { ifExists: true, increment: { n: 1 }, lastSeen: 2 }, 60);
        await Promise.all(Array.from({ length: 25 }, () => [bump(store), bump(second)]).flat());
        expect((await store.get('two-instances'))?.record.data.n).toBe(50);
      } finally {
        await other.destroy();
      }
    });

    it('prunes 2,500 expired rows in batches of 1,000 and keeps live rows', async () => {
      const table = newTable();
      await createSessionTable(knex, table);
      const pruner = new KnexStore({ knex, tableName: table, pruneInterval: 0, pruneBatchSize: 1000 });
      const past = Date.now() - 1000;
      const rows = Array.from({ length: 2500 }, (_, i) => ({ id: `expired-${i}`, data: '{}', expires_at: past - i, user_id: null }));
      for (let i = 0; i < rows.length; i += 500) await knex(table).insert(rows.slice(i, i + 500));
      await pruner.set('live-1', record(), 60);
      await pruner.set('live-2', record(), 60);

      const deletes: string[] = [];
      const onQuery = (q: { sql: string }) => {
        if (/^delete/i.test(q.sql)) deletes.push(q.sql);
      };
      knex.on('query', onQuery);
      try {
        expect(await pruner.prune()).toBe(2500);
      } finally {
        knex.off('query', onQuery);
      }
      expect(deletes).toHaveLength(3); // 1000 + 1000 + 500, never one giant delete
      expect((await knex(table).select('id').orderBy('id')).map((r) => r.id)).toEqual(['live-1', 'live-2']);
      expect(await pruner.prune()).toBe(0);
    });

    it('creates the table safely when several starts race (and again when it exists)', async () => {
      const table = newTable();
      const other = dialect.name === 'sqlite :memory:' ? knex : dialect.connect();
      try {
        await Promise.all([createSessionTable(knex, table), createSessionTable(other, table), createSessionTable(knex, table), createSessionTable(other, table)]);
        await createSessionTable(knex, table);
        const a = new KnexStore({ knex, tableName: table, createTable: true, pruneInterval: 0 });
        const b = new KnexStore({ knex: other, tableName: table, createTable: true, pruneInterval: 0 });
        await Promise.all([a.set('x', record({ from: 'a' }), 60), b.set('y', record({ from: 'b' }), 60)]);
        expect((await b.get('x'))?.record.data.from).toBe('a');
      } finally {
        if (other !== knex) await other.destroy();
      }
    });

    it('keeps the user_id column in step with record.user through set and update', async () => {
      const userOf = async (id: string) => (await knex(store.tableName).where('id', id).first())?.user_id;
      await store.set('u1', record({}, 'alice'), 60);
      expect(await userOf('u1')).toBe('alice');
      await store.update('u1', { ifExists: true, user: 'bob', lastSeen: 2 }, 60);
      expect(await userOf('u1')).toBe('bob');
      await store.update('u1', { ifExists: true, user: null, lastSeen: 3 }, 60);
      expect(await userOf('u1')).toBeNull();
      expect(await store.listByUser('bob')).toEqual([]);
    });

    it('round-trips text jsonb cannot hold as-is: NUL, lone surrogates, backslash-u text, U+E000', async () => {
      const data = {
        nul: 'a\u0000b',
        surrogate: 'x\ud800y\udfff',
        lookalike: 'literal \\u0000 and \\\\u0000 and \\ud800',
        mark: '\uE000 \uE000\uE000 \uE0000000',
        ['key\u0000\uE000']: ['\u0000'],
      };
      await store.set('odd-text', record(data), 60);
      expect((await store.get('odd-text'))?.record.data).toEqual(data);
    });

    it('accepts a fractional ttl', async () => {
      await store.set('fraction', record(), 0.25);
      expect(await store.get('fraction')).toBeDefined();
      await store.update('fraction', { ifExists: true, lastSeen: 2 }, 0.3);
      await sleep(400);
      expect(await store.get('fraction')).toBeUndefined();
    });

    it('works on a hand-written table whose data column is json rather than the default type', async () => {
      const table = newTable();
      await knex.schema.createTable(table, (t) => {
        t.string('id', 64).primary();
        t.json('data').notNullable(); // json on PostgreSQL, JSON on MariaDB, text on SQLite
        t.bigInteger('expires_at').notNullable();
        t.string('user_id', 255).nullable();
      });
      const own = new KnexStore({ knex, tableName: table, pruneInterval: 0 });
      const value = record({ text: 'nul \u0000 here', n: 1 }, 'carol');
      await own.set('j', value, 60);
      const read = await own.get('j');
      expect(read?.record).toEqual(value);
      // The held version (compare-and-set on PostgreSQL json and SQLite; on a column the driver hands over
      // parsed, MariaDB JSON, the locked path with the held record), then a stale version.
      const first = await own.update('j', { ifExists: true, increment: { n: 2 }, lastSeen: 5 }, 60, read);
      expect(first).toMatchObject({ existed: true, written: true });
      expect((await own.get('j'))?.version).toEqual(first.version);
      await own.update('j', { ifExists: true, increment: { n: 1 }, lastSeen: 6 }, 60, read);
      expect((await own.get('j'))?.record.data.n).toBe(4);
      expect((await own.listByUser('carol')).map((s) => s.id)).toEqual(['j']);
    });

    it('round-trips 300 strings built from escape-like characters through the database', async () => {
      const parts = ['\\', 'u', '0', 'd', '8', '\uE000', '\u0000', '\ud800', '\udfff', '"'];
      let state = 3;
      const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const strings = Array.from({ length: 300 }, () => Array.from({ length: 1 + Math.floor(random() * 10) }, () => parts[Math.floor(random() * parts.length)]).join(''));
      const data = Object.fromEntries(strings.map((s, i) => [`${i}:${s}`, s]));
      await store.set('escapes', record(data), 60);
      expect((await store.get('escapes'))?.record.data).toEqual(data);
    });

    it('keeps ids that differ only in letter case apart', async () => {
      await store.set('CaseId', record({ v: 'upper' }), 60);
      await store.set('caseid', record({ v: 'lower' }), 60);
      expect((await store.get('CaseId'))?.record.data.v).toBe('upper');
      expect((await store.get('caseid'))?.record.data.v).toBe('lower');
    });

    it('stores a record of several megabytes', async () => {
      const big = record({ blob: 'é'.repeat(3_000_000) });
      await store.set('big', big, 60);
      expect((await store.get('big'))?.record).toEqual(big);
    });

    it('reads a row of the wrong shape as absent', async () => {
      await knex(store.tableName).insert({ id: 'shape', data: '[1,2,3]', expires_at: Date.now() + 60_000, user_id: null });
      expect(await store.get('shape')).toBeUndefined();
      const created = await store.update('shape', { ifExists: true, put: { a: 1 }, lastSeen: 1 }, 60);
      expect(created).toMatchObject({ existed: false, written: false });
    });

    it('surfaces an unreachable database as a StoreError with the cause', async () => {
      const broken = knexFactory(dialect.unreachable());
      const failing = new KnexStore({ knex: broken, tableName: 'sessions', pruneInterval: 0 });
      try {
        const started = Date.now();
        const err = await failing.get('any').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreError);
        expect((err as StoreError).message).toMatch(/^\[sess\] KnexStore could not read a session in table "sessions": .+\. Check that the database is reachable and the table has the schema of createSessionTable\.$/);
        expect((err as StoreError).cause).toBeInstanceOf(Error);
        expect((err as StoreError).status).toBe(503);
        expect((err as StoreError).code).toBe('E_STORE'); // unreachable is not a refusal
        expect(Date.now() - started).toBeLessThan(5000);
        await expect(failing.set('any', record(), 60)).rejects.toBeInstanceOf(StoreError);
        await expect(failing.update('any', { lastSeen: 1 }, 60)).rejects.toBeInstanceOf(StoreError);
        await expect(failing.rotate('any', 'other', { lastSeen: 1 }, 60)).rejects.toMatchObject({ code: 'E_STORE' });
      } finally {
        await broken.destroy();
      }
    });

    it('surfaces a missing table as a StoreError that names the fix', async () => {
      const missing = new KnexStore({ knex, tableName: `missing_${uniqueTable()}`, pruneInterval: 0 });
      const err = await missing.get('secret-session-id').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).message).not.toContain('secret-session-id'); // no SQL values in our message
      expect((err as StoreError).message).not.toMatch(/select/i);
      expect((err as StoreError).message).toContain(`Create the table: pass createTable: true, or call createSessionTable(knex, "${missing.tableName}") in a migration.`);
    });

    it('reports an exhausted pool as a StoreError with code E_STORE_TIMEOUT', async () => {
      const small = dialect.connect({ pool: { min: 0, max: 1 }, acquireConnectionTimeout: 300, ...quiet });
      const busy = new KnexStore({ knex: small, tableName: store.tableName, pruneInterval: 0 });
      let release!: () => void;
      const held = small.transaction(() => new Promise<void>((resolve) => (release = resolve)));
      try {
        await sleep(50); // the transaction now holds the only connection
        const err = await busy.get('x').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreError);
        expect((err as StoreError).code).toBe('E_STORE_TIMEOUT');
        expect((err as StoreError).message).toMatch(/No connection was free in time: .*pool\.max/);
      } finally {
        release?.();
        await held;
        await small.destroy();
      }
    });

    it('sweeps expired rows on its timer, and close() stops the timer but not your knex', async () => {
      const table = newTable();
      await createSessionTable(knex, table);
      const sweeper = new KnexStore({ knex, tableName: table, pruneInterval: 0.1 });
      await knex(table).insert({ id: 'old', data: '{}', expires_at: Date.now() - 1, user_id: null });
      await sleep(400);
      expect(await knex(table).where('id', 'old')).toEqual([]);
      await sweeper.close();
      await knex(table).insert({ id: 'old2', data: '{}', expires_at: Date.now() - 1, user_id: null });
      await sleep(300);
      expect(await knex(table).where('id', 'old2')).toHaveLength(1);
      expect(await knex.raw('select 1 as one')).toBeDefined(); // the borrowed instance still works
    });

    // SQLite has no advisory locks (and one connection per process): only server databases.
    if (!dialect.name.startsWith('sqlite')) it('skips its sweep while another instance holds the sweep lock', async () => {
      const table = newTable();
      await createSessionTable(knex, table);
      const lockName = sweepLockName(table);
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      // Another instance, mid-sweep: it holds the lock on its own connection.
      const holder = knex.transaction(async (trx) => {
        if (dialect.name === 'postgres') await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [lockName]);
        else await trx.raw('select get_lock(?, 5)', [lockName]);
        locked();
        await released;
        if (dialect.name !== 'postgres') await trx.raw('select release_lock(?)', [lockName]);
      });
      await isLocked;
      await knex(table).insert({ id: 'old', data: '{}', expires_at: Date.now() - 1, user_id: null });
      const sweeper = new KnexStore({ knex, tableName: table, pruneInterval: 0.1 });
      try {
        await sleep(400);
        expect(await knex(table).where('id', 'old')).toHaveLength(1); // it left the sweep to the holder
        release();
        await holder;
        await sleep(400);
        expect(await knex(table).where('id', 'old')).toEqual([]);
      } finally {
        release();
        await sweeper.close();
      }
    });
  });
}

describe('KnexStore options', () => {
  it('refuses an in-memory SQLite database with a pool of more than one connection', async () => {
    const knex = knexFactory({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true, pool: { min: 1, max: 4 } });
    try {
      expect(() => new KnexStore({ knex })).toThrow(ConfigError);
      expect(() => new KnexStore({ knex })).toThrow('[sess] An in-memory SQLite database needs a knex pool of exactly one connection: pass pool: { min: 1, max: 1 }.');
    } finally {
      await knex.destroy();
    }
  });

  it('refuses a missing knex and bad numbers at construction', () => {
    expect(() => new KnexStore({} as never)).toThrow(/\[sess\] KnexStore needs a Knex instance/);
    const knex = knexFactory({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });
    expect(() => new KnexStore({ knex, pruneBatchSize: 0 })).toThrow(ConfigError);
    expect(() => new KnexStore({ knex, pruneInterval: -1 })).toThrow(ConfigError);
    return knex.destroy();
  });
});
