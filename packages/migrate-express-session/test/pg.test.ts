import { randomBytes } from 'node:crypto';
import connectPgSimple from 'connect-pg-simple';
import expressSession from 'express-session';
import knexFactory from 'knex';
import pg from 'pg';
import type { SessionRecord } from '@sess/core';
import { KnexStore } from '@sess/store-knex';
import { SERVICES, requireService } from '@sess/test-utils';
import { connectPgSimpleSource } from '@sess/migrate-express-session';
import { describe } from 'vitest';
import { migrationScenarios } from './scenarios.js';

const hasPostgres = await requireService('postgres');

describe.skipIf(!hasPostgres)('connect-pg-simple to KnexStore', () => {
  const suffix = randomBytes(4).toString('hex');
  const oldTable = `session_mig_${suffix}`;
  const newTable = `sess_mig_${suffix}`;
  const pool = new pg.Pool({ connectionString: SERVICES.postgres.url, max: 4 });
  const knex = knexFactory({ client: 'pg', connection: SERVICES.postgres.url, pool: { min: 0, max: 4 } });
  const PgSession = connectPgSimple(expressSession);

  migrationScenarios('express-session + connect-pg-simple, then sess + KnexStore on the same PostgreSQL', async () => {
    const oldStore = new PgSession({ pool, tableName: oldTable, createTableIfMissing: true, pruneSessionInterval: false });
    const newStore = new KnexStore({ knex, tableName: newTable, createTable: true, pruneInterval: 0 });
    return {
      oldStore,
      newStore,
      source: connectPgSimpleSource({ pool, tableName: oldTable }),
      async oldExpiry(id) {
        const { rows } = await pool.query(`SELECT (EXTRACT(EPOCH FROM (expire::timestamptz - now())) * 1000)::float8 AS ms_left FROM "${oldTable}" WHERE sid = $1`, [id]);
        const left = rows[0] ? Number(rows[0].ms_left) : undefined;
        return left !== undefined && left > 0 ? Date.now() + left : undefined;
      },
      async newRecords() {
        const rows: Array<{ id: string; data: unknown }> = await knex(newTable).select('id', 'data');
        return rows.map(({ id, data }) => ({ id, record: (typeof data === 'string' ? JSON.parse(data) : data) as SessionRecord }));
      },
      async close() {
        await knex.schema.dropTableIfExists(newTable);
        await pool.query(`DROP TABLE IF EXISTS "${oldTable}"`);
        await newStore.close();
        await knex.destroy();
        await pool.end();
      },
    };
  });
});
