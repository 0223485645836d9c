/**
 * Store calls per request on KnexStore (the core README's table), through a
 * SessionManager and the request lifecycle over real HTTP, on SQLite (a file,
 * WAL), PostgreSQL and MariaDB; the SQL statements each store call sends are
 * counted too (knex's query event; on better-sqlite3, whose writes KnexStore
 * runs natively on the connection, every prepared statement's runs).
 */
import type { Knex } from 'knex';
import { startLifecycleEconomyApp, testStoreEconomy, type BackendCounter } from '@sess/test-utils';
import { KnexStore } from '@sess/store-knex';
import { DIALECTS, uniqueTable } from './dialects.js';

/** Counts statements on a better-sqlite3 connection: each run/get/all of every statement it prepares. */
function countPrepared(db: { prepare(sql: string): Record<string, (...a: unknown[]) => unknown> }, bump: () => void) {
  const prepare = db.prepare.bind(db);
  db.prepare = (sql: string) => {
    const statement = prepare(sql);
    for (const m of ['run', 'get', 'all']) {
      const original = statement[m]!.bind(statement);
      statement[m] = (...args: unknown[]) => (bump(), original(...args));
    }
    return statement;
  };
  return db;
}

/**
 * SQL statements per store call on the path a lone request takes: `get` one
 * SELECT; `set` one upsert; `update` one conditional UPDATE (the
 * compare-and-set step, the version being the row's text); `rotate` one
 * transaction (BEGIN, the old row locked, INSERT, DELETE, COMMIT).
 */
const PER_CALL: Record<string, BackendCounter['perCall']> = {
  'sqlite file': { get: 1, set: 1, update: 1, rotate: 3 },
  postgres: { get: 1, set: 1, update: 1, rotate: 5 },
  mariadb: { get: 1, set: 1, update: 1, rotate: 5 },
};

for (const dialect of DIALECTS.filter((d) => d.name in PER_CALL)) {
  const available = await dialect.available();
  let statements = 0;
  let knex: Knex | undefined;
  const table = uniqueTable();
  testStoreEconomy({
    name: `KnexStore on ${dialect.name}`,
    skip: !available,
    store: async () => {
      knex =
        dialect.name === 'sqlite file'
          ? dialect.connect({ pool: { afterCreate: (db: any, done: (err: null, db: unknown) => void) => done(null, countPrepared(db, () => statements++)) } })
          : dialect.connect();
      if (dialect.name !== 'sqlite file') knex.on('query', () => statements++);
      const store = new KnexStore({ knex, tableName: table, createTable: true, pruneInterval: 0 });
      await store.get('warm-up-no-such-id'); // creates the table
      return store;
    },
    backend: () => ({
      what: 'SQL statements',
      reset: () => void (statements = 0),
      total: () => statements,
      perCall: PER_CALL[dialect.name]!,
    }),
    start: startLifecycleEconomyApp,
    cleanup: async () => {
      if (!knex) return;
      await knex.schema.dropTableIfExists(table);
      await knex.destroy();
      dialect.dispose?.();
    },
  });
}
