// Memory and scale: many live sessions in each store.
//   MemoryStore: heap used per session.
//   FileStore:   prune time for BENCH_SCALE_FILES files, half of them expired.
//   KnexStore:   prune of BENCH_SCALE_SESSIONS rows on PostgreSQL, half expired, in batches.
//   RedisStore:  memory per session from INFO memory (and MEMORY USAGE of sample keys).
// Run with --expose-gc (run.mjs does) for steady heap figures.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryStore, SessionManager } from '@sess/core';
import { KNOBS, PG, PREFIX, REDIS, SECRET } from './config.mjs';
import { fmt, markdownTable } from './format.mjs';

const N = KNOBS.scaleSessions;
const FILES = KNOBS.scaleFiles;
const rows = [];
const log = (...a) => console.error('[scale]', ...a);
const gc = () => {
  globalThis.gc?.();
  globalThis.gc?.();
};
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;

/** A typical record: a signed-in user and a counter. */
async function sampleRecord() {
  const store = new MemoryStore({ sweepInterval: 0 });
  const m = new SessionManager({ secret: SECRET, store });
  const s = await m.load(undefined);
  s.put('user', { id: 42, name: 'Ada Lovelace', roles: ['admin'] });
  s.put('n', 1);
  await m.commit(s);
  return (await store.get(s.id)).record;
}
const record = await sampleRecord();
const recordBytes = Buffer.byteLength(JSON.stringify(record));

async function inBatches(total, size, fn) {
  for (let i = 0; i < total; i += size) {
    const jobs = [];
    for (let j = i; j < Math.min(total, i + size); j++) jobs.push(fn(j));
    await Promise.all(jobs);
  }
}

let memoryTarget = 'target: MemoryStore heap per session not measured';
// ---- MemoryStore ----------------------------------------------------------------------
{
  const store = new MemoryStore({ sweepInterval: 0 });
  const manager = new SessionManager({ secret: SECRET, store });
  gc();
  const before = process.memoryUsage().heapUsed;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const s = await manager.load(undefined);
    s.put('user', { id: i, name: 'Ada Lovelace', roles: ['admin'] });
    s.put('n', 1);
    await manager.commit(s);
  }
  const took = seconds(t0);
  gc();
  const after = process.memoryUsage().heapUsed;
  const perSession = (after - before) / N;
  memoryTarget = `target: <= 300 B of heap per idle session in MemoryStore at ${fmt(N)} sessions: ${fmt(perSession)} B, ${perSession <= 300 ? 'holds' : `MISSED by ${fmt(perSession - 300)} B`}${N < 100_000 ? ' (fewer sessions than the target names: quick run)' : ''}`;
  rows.push(['MemoryStore', `${fmt(N)} sessions created through the manager`, `${fmt(took, 2)} s (${fmt(N / took)} /s)`, `${fmt(perSession)} B heap per session (record JSON ${recordBytes} B)`]);
  log('MemoryStore done');
  await store.close();
}

// ---- FileStore ----------------------------------------------------------------------------
try {
  const { FileStore } = await import('@sess/store-file');
  const dir = mkdtempSync(path.join(tmpdir(), 'sess-bench-scale-'));
  let now = Date.now();
  const store = new FileStore({ dir, clock: () => now, sweepInterval: 0 });
  const t0 = process.hrtime.bigint();
  // Half live for an hour, half for a minute (expired once the clock moves on).
  await inBatches(FILES, 200, (i) => store.set(`scale${String(i).padStart(38, '0')}AAAAA`.slice(0, 43), record, i % 2 ? 3600 : 60));
  const wrote = seconds(t0);
  now += 120_000;
  const t1 = process.hrtime.bigint();
  const pruned = await store.prune();
  const took = seconds(t1);
  rows.push(['FileStore', `${fmt(FILES)} files, half expired${FILES < N ? ` (${fmt(FILES)}, not ${fmt(N)}: writing ${fmt(N)} files takes minutes on this disk)` : ''}`, `write ${fmt(wrote, 2)} s; prune ${fmt(took, 2)} s`, `pruned ${fmt(pruned)} (${fmt((took / Math.max(1, pruned)) * 1e6, 0)} µs per deleted file)`]);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  log('FileStore done');
} catch (err) {
  rows.push(['FileStore', 'failed', err.message, '']);
}

// ---- KnexStore on PostgreSQL --------------------------------------------------------------
try {
  const { default: knexFactory } = await import('knex');
  const { KnexStore } = await import('@sess/store-knex');
  const knex = knexFactory({ client: 'pg', connection: PG, pool: { min: 1, max: 4 } });
  const tableName = `${PREFIX.replace(/:/g, '_')}scale`;
  await knex.schema.dropTableIfExists(tableName);
  const store = new KnexStore({ knex, tableName, createTable: true, pruneInterval: 0 });
  await store.get('warm-up-no-such-id'); // creates the table
  const t0 = process.hrtime.bigint();
  const now = Date.now();
  const data = JSON.stringify(record);
  const rowsToInsert = Array.from({ length: N }, (_, i) => ({ id: `scale-${i}`, data, expires_at: i % 2 ? now + 3_600_000 : now - 60_000, user_id: null }));
  await knex.batchInsert(tableName, rowsToInsert, 1000);
  const wrote = seconds(t0);
  await knex.raw(`analyze ${tableName}`);
  let queries = 0;
  knex.on('query', () => queries++);
  const t1 = process.hrtime.bigint();
  const pruned = await store.prune();
  const took = seconds(t1);
  rows.push(['KnexStore (PostgreSQL)', `${fmt(N)} rows (bulk insert), half expired`, `insert ${fmt(wrote, 2)} s; prune ${fmt(took, 2)} s`, `pruned ${fmt(pruned)} in ${queries} statements (batches)`]);
  await store.close();
  await knex.schema.dropTableIfExists(tableName);
  await knex.destroy();
  log('KnexStore done');
} catch (err) {
  rows.push(['KnexStore (PostgreSQL)', 'failed', err.message, '']);
}

// ---- RedisStore ------------------------------------------------------------------------------
try {
  const { Redis } = await import('ioredis');
  const { RedisStore } = await import('@sess/store-redis');
  const client = new Redis({ host: REDIS.host, port: REDIS.port });
  const prefix = `${PREFIX}scale:`;
  const store = new RedisStore({ client, prefix });
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await client.info('memory'))[1]);
  const before = await usedMemory();
  const t0 = process.hrtime.bigint();
  await inBatches(N, 1000, (i) => store.set(`scale${String(i).padStart(38, '0')}`, record, 3600));
  const wrote = seconds(t0);
  const after = await usedMemory();
  let sample = 0;
  for (let i = 0; i < 100; i++) sample += Number(await client.memory('USAGE', `${prefix}scale${String(i * 7).padStart(38, '0')}`));
  rows.push(['RedisStore', `${fmt(N)} sessions (store.set, 1000 in flight)`, `${fmt(wrote, 2)} s (${fmt(N / wrote)} /s)`, `${fmt((after - before) / N)} B per session from INFO used_memory (shared server: approximate); MEMORY USAGE of a key ${fmt(sample / 100)} B`]);
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length) await client.unlink(...keys);
  } while (cursor !== '0');
  client.disconnect();
  log('RedisStore done');
} catch (err) {
  rows.push(['RedisStore', 'failed', err.message, '']);
}

const out = [`## Memory and scale (${fmt(N)} sessions; record of ${recordBytes} B JSON)`, '', markdownTable(['store', 'what', 'time', 'result'], rows), '', memoryTarget, ''].join('\n');
console.log(out);
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, `${KNOBS.quick ? 'quick' : 'latest'}-scale.md`), out);
process.exit(0);
