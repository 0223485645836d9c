import type { Knex } from 'knex';
import { dialectOf } from './dialect.js';

/**
 * Creates the session table if it is missing: safe to call from several
 * processes starting at once (a lost creation race is detected and ignored).
 * Use it in a migration to own the schema yourself, or let `KnexStore` call it
 * with `createTable: true`.
 *
 * Columns: `id` varchar(64) primary key, `data` (jsonb on PostgreSQL, LONGTEXT on
 * MySQL/MariaDB, TEXT on SQLite), `expires_at` bigint epoch ms (indexed),
 * `user_id` varchar(255) nullable (indexed).
 *
 * @example
 * // migrations/20250101_sessions.js
 * import { createSessionTable } from '@sess/store-knex';
 * export const up = (knex) => createSessionTable(knex, 'sessions');
 * export const down = (knex) => knex.schema.dropTableIfExists('sessions');
 */
export async function createSessionTable(knex: Knex, tableName = 'sessions'): Promise<void> {
  if (await knex.schema.hasTable(tableName)) return;
  const dialect = dialectOf(knex);
  const build = (table: Knex.CreateTableBuilder) => {
    if (dialect === 'mysql') {
      // Binary collation: ids are base64url, where `a` and `A` differ; the default
      // case-insensitive collation would make two ids one row.
      table.charset('utf8mb4');
      table.collate('utf8mb4_bin');
    }
    table.string('id', 64).primary();
    if (dialect === 'postgres') table.jsonb('data').notNullable();
    else if (dialect === 'mysql') table.text('data', 'longtext').notNullable(); // records can be megabytes
    else table.text('data').notNullable();
    table.bigInteger('expires_at').notNullable().index(`${tableName}_expires_at_idx`);
    table.string('user_id', 255).nullable().index(`${tableName}_user_id_idx`);
  };
  try {
    // PostgreSQL DDL is transactional: the table and its indexes appear together.
    if (dialect === 'postgres') await knex.transaction((trx) => trx.schema.createTable(tableName, build));
    else await knex.schema.createTable(tableName, build);
  } catch (err) {
    // Another process won the race between hasTable and createTable.
    if (await knex.schema.hasTable(tableName)) return;
    throw err;
  }
}
