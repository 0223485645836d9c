import type { Knex } from 'knex';
import { ConfigError } from '@sess/core';

/** The SQL families KnexStore knows how to speak. */
export type Dialect = 'postgres' | 'mysql' | 'sqlite';

/** The dialect of a Knex instance, from its client (`pg`, `mysql2`, `better-sqlite3`, ...). */
export function dialectOf(knex: Knex): Dialect {
  const name = String((knex.client as { dialect?: string }).dialect ?? '');
  if (name === 'postgresql' || name === 'pgnative' || name === 'cockroachdb') return 'postgres';
  if (name === 'mysql' || name === 'mysql2') return 'mysql';
  if (name === 'sqlite3' || name === 'better-sqlite3') return 'sqlite';
  throw new ConfigError(
    `[sess] KnexStore supports PostgreSQL, MySQL/MariaDB and SQLite, not the "${name || 'unknown'}" client. Pass a knex instance created with client "pg", "mysql2" or "better-sqlite3".`,
  );
}
