import { randomBytes } from 'node:crypto';
import { ConnectSessionKnexStore } from 'connect-session-knex';
import knexFactory, { type Knex } from 'knex';
import type { SessionRecord } from '@sess/core';
import { KnexStore } from '@sess/store-knex';
import { SERVICES, requireService } from '@sess/test-utils';
import { connectSessionKnexSource } from '@sess/migrate-express-session';
import { describe } from 'vitest';
import { migrationScenarios } from './scenarios.js';

const mysqlConnection = { host: '127.0.0.1', port: SERVICES.mysql.port, user: 'root', password: '', database: 'test' };

const databases: Array<{ name: string; available: boolean; connect(): Knex; expiry(knex: Knex, table: string, id: string): Promise<number | undefined> }> = [
  {
    name: 'PostgreSQL',
    available: await requireService('postgres'),
    connect: () => knexFactory({ client: 'pg', connection: SERVICES.postgres.url, pool: { min: 0, max: 6 } }),
    async expiry(knex, table, id) {
      const [row] = await knex(table).select('expired').where('sid', id);
      return row ? new Date(row.expired).getTime() : undefined;
    },
  },
  {
    // The old app's driver reads DATETIME five hours off (a server in another
    // time zone): the expiry must still come out right.
    name: 'MariaDB, the old app in another time zone',
    available: await requireService('mysql'),
    connect: () => knexFactory({ client: 'mysql2', connection: { ...mysqlConnection, timezone: '+05:00' }, pool: { min: 0, max: 6 } }),
    async expiry(knex, table, id) {
      const [[row]] = await knex.raw('SELECT TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), expired) / 1000 AS ms_left FROM ?? WHERE sid = ?', [table, id]);
      return row ? Date.now() + Number(row.ms_left) : undefined;
    },
  },
];

for (const db of databases) {
  describe.skipIf(!db.available)(`connect-session-knex to KnexStore on ${db.name}`, () => {
    const suffix = randomBytes(4).toString('hex');
    const oldTable = `sessions_csk_${suffix}`;
    const newTable = `sess_csk_${suffix}`;

    migrationScenarios(`express-session + connect-session-knex, then sess + KnexStore (${db.name})`, async () => {
      const oldKnex = db.connect();
      const newKnex = db.name === 'PostgreSQL' ? oldKnex : knexFactory({ client: 'mysql2', connection: mysqlConnection, pool: { min: 0, max: 6 } });
      const oldStore = new ConnectSessionKnexStore({ knex: oldKnex, tableName: oldTable, createTable: true, cleanupInterval: 0 });
      await oldStore.ready;
      const newStore = new KnexStore({ knex: newKnex, tableName: newTable, createTable: true, pruneInterval: 0 });
      return {
        oldStore,
        newStore,
        source: connectSessionKnexSource({ knex: oldKnex, tableName: oldTable }),
        async oldExpiry(id) {
          const at = await db.expiry(oldKnex, oldTable, id);
          return at !== undefined && at > Date.now() ? at : undefined;
        },
        async newRecords() {
          const rows: Array<{ id: string; data: unknown }> = await newKnex(newTable).select('id', 'data');
          return rows.map(({ id, data }) => ({ id, record: (typeof data === 'string' ? JSON.parse(data) : data) as SessionRecord }));
        },
        async close() {
          await newStore.close();
          await newKnex.schema.dropTableIfExists(newTable);
          await oldKnex.schema.dropTableIfExists(oldTable);
          await oldKnex.destroy();
          if (newKnex !== oldKnex) await newKnex.destroy();
        },
      };
    });
  });
}
