/**
 * Four Express demo processes sharing one PostgreSQL (KnexStore). The demo's
 * table name is fixed (sess_demo_sessions), so the run gets a schema of its own
 * through the connection's search_path, created here and dropped after.
 */
import knex from 'knex';
import { requireService, SERVICES } from '@sess/test-utils';
import { fleetScenarios } from './helpers/scenarios.js';

const available = await requireService('postgres');
const SCHEMA = `sess_multi_instance_${process.pid}`;

fleetScenarios(
  {
    name: 'KnexStore (PostgreSQL)',
    storeName: 'postgres',
    async open() {
      const admin = knex({ client: 'pg', connection: SERVICES.postgres.url });
      await admin.raw(`create schema if not exists ${SCHEMA}`);
      await admin.destroy();
      return {
        env: { SESS_STORE: 'postgres', DATABASE_URL: `${SERVICES.postgres.url}?options=${encodeURIComponent(`-c search_path=${SCHEMA}`)}` },
        async cleanup() {
          const db = knex({ client: 'pg', connection: SERVICES.postgres.url });
          await db.raw(`drop schema if exists ${SCHEMA} cascade`);
          await db.destroy();
        },
      };
    },
  },
  available,
);
