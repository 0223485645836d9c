import type { Knex } from 'knex';
import { dialectOf } from './dialect.js';

/** The width of `user_id`: the longest user id core's `setUser` accepts. */
export const USER_ID_LENGTH = 512;

/**
 * Creates the session table if it is missing: safe to call from several
 * processes starting at once (a lost creation race is detected and ignored).
 * Use it in a migration to own the schema yourself, or let `KnexStore` call it
 * with `createTable: true`.
 *
 * Columns: `id` varchar(64) primary key, `data` (jsonb on PostgreSQL, LONGTEXT on
 * MySQL/MariaDB, TEXT on SQLite), `expires_at` bigint epoch ms (indexed),
 * `user_id` varchar(512) nullable (indexed).
 *
 * When the table exists with a `user_id` varchar narrower than 512 characters
 * (the schema before contract v2 had varchar(255)), it is widened in place
 * (PostgreSQL: `ALTER COLUMN ... TYPE varchar(512)`, MySQL/MariaDB: `MODIFY`
 * keeping the column's charset, collation and nullability; PostgreSQL changes
 * only the catalog, MySQL/MariaDB work in place for a utf8mb4 column). SQLite does not enforce varchar lengths, so nothing is changed there.
 * A widening the database refuses throws an `Error` that says so.
 *
 * @example
 * // migrations/20250101_sessions.js
 * import { createSessionTable } from '@sess/store-knex';
 * export const up = (knex) => createSessionTable(knex, 'sessions');
 * export const down = (knex) => knex.schema.dropTableIfExists('sessions');
 */
export async function createSessionTable(knex: Knex, tableName = 'sessions'): Promise<void> {
  const created = await createTableIfMissing(knex, tableName);
  if (!created) await widenUserId(knex, tableName);
}

/** Creates the table when missing; true when this call created it (or lost the race to create it). */
export async function createTableIfMissing(knex: Knex, tableName: string): Promise<boolean> {
  if (await knex.schema.hasTable(tableName)) return false;
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
    table.string('user_id', USER_ID_LENGTH).nullable().index(`${tableName}_user_id_idx`);
  };
  try {
    // PostgreSQL DDL is transactional: the table and its indexes appear together.
    if (dialect === 'postgres') await knex.transaction((trx) => trx.schema.createTable(tableName, build));
    else await knex.schema.createTable(tableName, build);
  } catch (err) {
    // Another process won the race between hasTable and createTable.
    if (await knex.schema.hasTable(tableName)) return true;
    throw err;
  }
  return true;
}

interface ColumnShape {
  type: string;
  length: number | null;
  nullable: boolean;
  charset: string | null;
  collation: string | null;
}

async function userIdColumn(knex: Knex, tableName: string, dialect: 'postgres' | 'mysql'): Promise<ColumnShape | undefined> {
  if (dialect === 'postgres') {
    // The table as the search path resolves it, like every query of the store.
    const result = await knex.raw(
      `select format_type(a.atttypid, null) as type, case when a.atttypmod > 4 then a.atttypmod - 4 end as length, not a.attnotnull as nullable
         from pg_attribute a where a.attrelid = to_regclass(?) and a.attname = 'user_id' and not a.attisdropped`,
      [quoteIdentPg(tableName)],
    );
    const row = result.rows[0] as { type: string; length: number | null; nullable: boolean } | undefined;
    return row && { type: row.type, length: row.length === null ? null : Number(row.length), nullable: row.nullable, charset: null, collation: null };
  }
  const [rows] = await knex.raw(
    `select data_type as type, character_maximum_length as length, is_nullable as nullable, character_set_name as charset, collation_name as collation
       from information_schema.columns where table_schema = coalesce(?, database()) and table_name = ? and column_name = 'user_id'`,
    tableName.includes('.') ? [tableName.slice(0, tableName.indexOf('.')), tableName.slice(tableName.indexOf('.') + 1)] : [null, tableName],
  );
  const row = (rows as Array<Record<string, unknown>>)[0];
  if (!row) return undefined;
  // Column names come back in the server's case (upper on MySQL 8).
  const get = (key: string) => row[key] ?? row[key.toUpperCase()];
  const length = get('length');
  return {
    type: String(get('type')).toLowerCase(),
    length: length === null || length === undefined ? null : Number(length),
    nullable: get('nullable') === 'YES',
    charset: (get('charset') as string | null) ?? null,
    collation: (get('collation') as string | null) ?? null,
  };
}

/** The name as knex quotes it (`schema.table` is two identifiers). */
const quoteIdentPg = (name: string) => name.split('.').map((part) => `"${part.replaceAll('"', '""')}"`).join('.');

/**
 * Widens an existing `user_id` varchar narrower than 512 characters. Returns
 * true when it altered the column. Throws an `Error` naming the fix when the
 * database refuses.
 */
export async function widenUserId(knex: Knex, tableName: string): Promise<boolean> {
  const dialect = dialectOf(knex);
  if (dialect === 'sqlite') return false; // SQLite does not enforce varchar lengths
  const column = await userIdColumn(knex, tableName, dialect);
  if (!column || column.length === null || column.length >= USER_ID_LENGTH) return false;
  if (!/^(character varying|varchar|character|char)$/.test(column.type)) return false; // a type of the user's own choosing
  try {
    if (dialect === 'postgres') {
      await knex.raw(`alter table ?? alter column ?? type varchar(${USER_ID_LENGTH})`, [tableName, 'user_id']);
    } else {
      const charset = column.charset ? ` character set ${column.charset}` : '';
      const collation = column.collation ? ` collate ${column.collation}` : '';
      await knex.raw(`alter table ?? modify ?? varchar(${USER_ID_LENGTH})${charset}${collation} ${column.nullable ? 'null' : 'not null'}`, [tableName, 'user_id']);
    }
  } catch (err) {
    // The statement in knex's message holds no values, only the table's name.
    const detail = err instanceof Error ? err.message : String(err);
    throw new Error(
      `[sess] could not widen ${tableName}.user_id from ${column.length} to ${USER_ID_LENGTH} characters: ${detail}. Widen it in a migration (user ids up to ${USER_ID_LENGTH} characters are allowed); until then a longer user id is refused with E_STORE_REFUSED.`,
      { cause: err },
    );
  }
  return true;
}
