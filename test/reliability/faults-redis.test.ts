/**
 * Redis stopped in the middle of a load run and started again: requests during
 * the outage fail fast with 503, no session is replaced, and the same sessions
 * work again after the restart without restarting the app.
 */
import { RedisStore } from '@sess/store-redis';
import { requireService } from '@sess/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '../../packages/store-redis/test/redis-server.js';
import { percentile, round, send, startServer, type TestServer } from './helpers/app.js';
import { connected, FAIL_FAST } from './helpers/backends.js';
import { Figures } from './helpers/figures.js';
import { recovery, seedSessions, startTraffic } from './helpers/traffic.js';

const figures = new Figures('faults-redis', 'Fault: Redis stopped and restarted under load');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const CLIENTS = 20;
const STORE_TIMEOUT = 1500;

describe.skipIf(!(await requireService('redis')))('Redis outage under load', () => {
  let redis: RedisServer;
  let client: Redis;
  let server: TestServer;

  beforeAll(async () => {
    // Append-only with fsync on every write: the restarted server has every
    // acknowledged write, so a lost update would be the library's fault.
    redis = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    client = new Redis({ host: '127.0.0.1', port: redis.port, ...FAIL_FAST });
    client.on('error', () => {}); // reconnection noise during the outage
    await connected(client);
    server = await startServer(new RedisStore({ client, prefix: 'rel:' }), { storeTimeout: STORE_TIMEOUT });
  });
  afterAll(async () => {
    await server?.close();
    client?.disconnect();
    await redis?.stop();
  });

  it('fails fast with 503 while down, replaces no session, and serves the same sessions after the restart', async () => {
    const cookies = await seedSessions(server.baseUrl, CLIENTS);
    const traffic = startTraffic(server.baseUrl, cookies);
    await sleep(1500);
    const killedAt = performance.now();
    await redis.kill();
    await sleep(3000);
    const restartAt = performance.now();
    await redis.start();
    const readyAt = performance.now();
    await sleep(3000);
    const samples = await traffic.stop();

    const before = samples.filter((s) => s.end < killedAt);
    const outage = samples.filter((s) => s.start >= killedAt + 100 && s.end < restartAt);
    const statusesDuringOutage = [...new Set(outage.map((s) => s.status))].sort();
    const outageLatency = outage.map((s) => s.end - s.start);
    const { firstMs, allMs } = recovery(samples, CLIENTS, readyAt);

    // Every session after the restart: the same one (not new), its counter at
    // least every acknowledged increment (a 503 whose write reached the log may add one).
    let lost = 0;
    let replacedSessions = 0;
    let extra = 0;
    for (let c = 0; c < CLIENTS; c++) {
      const r = await send(server.baseUrl, '/all', { cookie: cookies[c] });
      expect(r.status).toBe(200);
      if (r.body.isNew || r.body.all.seed !== 1) replacedSessions++;
      const acknowledged = 1 + traffic.ok[c]!;
      const counter = Number(r.body.all.counter) || 0;
      if (counter < acknowledged) lost += acknowledged - counter;
      extra += Math.max(0, counter - acknowledged);
    }

    const row = {
      clients: CLIENTS,
      requests: samples.length,
      requestsBeforeOutage: before.length,
      requestsDuringOutage: outage.length,
      statusesDuringOutage: statusesDuringOutage.join(' '),
      outageP50ms: round(percentile(outageLatency, 50)),
      outageMaxMs: round(Math.max(...outageLatency)),
      storeTimeoutMs: STORE_TIMEOUT,
      non503Failures: samples.filter((s) => s.status !== 200 && s.status !== 503).length,
      sessionsReplacedByCookie: samples.filter((s) => s.replaced).length,
      sessionsReplacedAfterRestart: replacedSessions,
      lostIncrements: lost,
      unacknowledgedButApplied: extra,
      redisRestartMs: Math.round(readyAt - restartAt),
      recoveryFirstMs: firstMs,
      recoveryAllClientsMs: allMs,
    };
    figures.record('redis stopped 3 s under load', row);

    expect(before.length).toBeGreaterThan(0);
    expect(before.every((s) => s.status === 200)).toBe(true);
    expect(outage.length).toBeGreaterThan(CLIENTS);
    expect(statusesDuringOutage).toEqual([503]);
    expect(row.outageMaxMs).toBeLessThan(STORE_TIMEOUT + 1000);
    expect(row.non503Failures).toBe(0);
    expect(row.sessionsReplacedByCookie).toBe(0);
    expect(replacedSessions).toBe(0);
    expect(lost).toBe(0);
    expect(allMs).toBeLessThan(3000);
    expect(server.unexpected).toEqual([]);
  });
});
