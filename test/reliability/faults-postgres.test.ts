/**
 * PostgreSQL connections lost under load: the backends of the app's own knex
 * pool are terminated (pg_terminate_backend, filtered by the pool's unique
 * application_name: no other connection is touched). Requests that hit a dead
 * connection fail with 503, no session is replaced, the pool reconnects by itself.
 */
import { KnexStore } from '@sess/store-knex';
import { requireService } from '@sess/test-utils';
import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send, startServer, type TestServer } from './helpers/app.js';
import { pgConnection, tag } from './helpers/backends.js';
import { Figures } from './helpers/figures.js';
import { recovery, seedSessions, startTraffic } from './helpers/traffic.js';

const figures = new Figures('faults-postgres', 'Fault: PostgreSQL connections terminated under load');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const CLIENTS = 20;
// knex prints every dead connection it discards; here they are the point of the test.
const quiet = { warn() {}, error() {}, debug() {}, deprecate() {} };
const ROUNDS = 3;

describe.skipIf(!(await requireService('postgres')))('PostgreSQL connection loss under load', () => {
  const appName = `sess-rel-fault-${tag()}`;
  const tableName = `rel_sessions_${tag()}`;
  let knex: Knex;
  let admin: Knex;
  let server: TestServer;

  beforeAll(async () => {
    knex = knexFactory({ client: 'pg', connection: { ...pgConnection, application_name: appName }, pool: { min: 0, max: 10 }, log: quiet });
    admin = knexFactory({ client: 'pg', connection: { ...pgConnection, application_name: `${appName}-admin` }, pool: { min: 0, max: 1 } });
    server = await startServer(new KnexStore({ knex, tableName, createTable: true, pruneInterval: 0 }), { storeTimeout: 2000 });
  });
  afterAll(async () => {
    await server?.close();
    await knex?.destroy();
    await admin?.schema.dropTableIfExists(tableName);
    await admin?.destroy();
  });

  /** Terminates the backends of the app's pool only; returns how many. */
  const terminateOwnPool = async (): Promise<number> => {
    const { rows } = await admin.raw('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = ? AND pid <> pg_backend_pid()', [appName]);
    return rows.length;
  };

  it(`fails with 503 while connections die (${ROUNDS} rounds), replaces no session, and reconnects by itself`, async () => {
    const cookies = await seedSessions(server.baseUrl, CLIENTS);
    const traffic = startTraffic(server.baseUrl, cookies);
    await sleep(1000);
    const rounds: Array<{ at: number; terminated: number }> = [];
    for (let i = 0; i < ROUNDS; i++) {
      const at = performance.now();
      rounds.push({ at, terminated: await terminateOwnPool() });
      await sleep(1500);
    }
    const samples = await traffic.stop();

    let lost = 0;
    let replacedSessions = 0;
    for (let c = 0; c < CLIENTS; c++) {
      const r = await send(server.baseUrl, '/all', { cookie: cookies[c] });
      expect(r.status).toBe(200);
      if (r.body.isNew || r.body.all.seed !== 1) replacedSessions++;
      lost += Math.max(0, 1 + traffic.ok[c]! - (Number(r.body.all.counter) || 0));
    }
    const recoveries = rounds.map((r) => recovery(samples.filter((s) => s.start >= r.at), CLIENTS, r.at));
    const failed = samples.filter((s) => s.status !== 200);
    const row = {
      clients: CLIENTS,
      rounds: ROUNDS,
      backendsTerminated: rounds.map((r) => r.terminated).join(' '),
      requests: samples.length,
      failedRequests: failed.length,
      statusesOfFailures: [...new Set(failed.map((s) => s.status))].sort().join(' ') || 'none',
      maxFailedLatencyMs: Math.round(Math.max(0, ...failed.map((s) => s.end - s.start))),
      sessionsReplacedByCookie: samples.filter((s) => s.replaced).length,
      sessionsReplacedAfter: replacedSessions,
      lostIncrements: lost,
      reconnectAllClientsMs: recoveries.map((r) => r.allMs).join(' '),
      worstReconnectMs: Math.max(...recoveries.map((r) => r.allMs)),
    };
    figures.record('postgres backends terminated 3 times under load', row);

    expect(rounds.every((r) => r.terminated > 0)).toBe(true);
    expect(failed.every((s) => s.status === 503)).toBe(true);
    expect(row.sessionsReplacedByCookie).toBe(0);
    expect(replacedSessions).toBe(0);
    expect(lost).toBe(0);
    expect(row.worstReconnectMs).toBeLessThan(1500);
    expect(server.unexpected).toEqual([]);
  });
});
