import { randomBytes } from 'node:crypto';
import { ConnectSessionKnexStore } from 'connect-session-knex';
import knexFactory from 'knex';
import type { SessionRecord } from '@sess/core';
import { KnexStore } from '@sess/store-knex';
import { SERVICES, requireService } from '@sess/test-utils';
import { connectSessionKnexSource } from '@sess/migrate-express-session';
import { describe } from 'vitest';
import { migrationScenarios } from './scenarios.js';

const hasPostgres = await requireService('postgres');

describe.skipIf(!hasPostgres)('connect-session-knex to KnexStore', () => {
  const suffix = randomBytes(4).toString('hex');
  const oldTable = `sessions_csk_${suffix}`;
  const newTable = `sess_csk_${suffix}`;
  const knex = knexFactory({ client: 'pg', connection: SERVICES.postgres.url, pool: { min: 0, max: 6 } });

  migrationScenarios('express-session + connect-session-knex, then sess + KnexStore on the same PostgreSQL', async () => {
    const oldStore = new ConnectSessionKnexStore({ knex, tableName: oldTable, createTable: true, cleanupInterval: 0 });
    await oldStore.ready;
    const newStore = new KnexStore({ knex, tableName: newTable, createTable: true, pruneInterval: 0 });
    return {
      oldStore,
      newStore,
      source: connectSessionKnexSource({ knex, tableName: oldTable }),
      async oldExpiry(id) {
        const [row] = await knex(oldTable).select('expired').where('sid', id);
        const at = row ? new Date(row.expired).getTime() : undefined;
        return at !== undefined && at > Date.now() ? at : undefined;
      },
      async newRecords() {
        const rows: Array<{ id: string; data: unknown }> = await knex(newTable).select('id', 'data');
        return rows.map(({ id, data }) => ({ id, record: (typeof data === 'string' ? JSON.parse(data) : data) as SessionRecord }));
      },
      async close() {
        await newStore.close();
        await knex.schema.dropTableIfExists(newTable);
        await knex.schema.dropTableIfExists(oldTable);
        await knex.destroy();
      },
    };
  });
});
