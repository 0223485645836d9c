/**
 * Expiry sweeps run by several instances at once: separate processes, each
 * with its own store (and for KnexStore its own connection pool), prune one
 * shared folder or table at the same moment.
 *
 * Already proven by the stores' own tests, so not repeated here:
 * - FileStore: 4 instances in one process pruning one folder count each expired
 *   file once; a sweep never deletes a session rewritten meanwhile; the timer
 *   stops on close(); a process with only a FileStore open exits by itself
 *   (packages/store-file/test/sweep.test.ts, processes.test.ts).
 * - KnexStore: close() stops the timer; a timer sweep is skipped while another
 *   instance holds the advisory lock; prune() works in batches
 *   (packages/store-knex/test/knex-store.test.ts).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import { emptyRecord } from '@sess/core';
import { FileStore } from '@sess/store-file';
import { createSessionTable, KnexStore } from '@sess/store-knex';
import { requireService, SERVICES } from '@sess/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SWEEPER = fileURLToPath(new URL('./fixtures/sweeper.mjs', import.meta.url));
const PROCESSES = 3;
const ROUNDS = 3;

/** Worker processes that prune on command; all get the command in the same tick. */
async function startSweepers(args: string[]) {
  const children: ChildProcess[] = [];
  const errors: string[] = [];
  for (let i = 0; i < PROCESSES; i++) {
    const child = fork(SWEEPER, args, { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    child.stderr!.on('data', (chunk: Buffer) => errors.push(chunk.toString()));
    children.push(child);
  }
  await Promise.all(children.map((c) => once(c, 'message')));
  return {
    errors,
    async pruneAll(): Promise<Array<{ count?: number; error?: string }>> {
      const answers = children.map((c) => once(c, 'message').then(([m]) => m as { count?: number; error?: string }));
      for (const c of children) c.send('prune');
      return Promise.all(answers);
    },
    async close() {
      await Promise.all(
        children.map(async (c) => {
          if (c.exitCode !== null) return;
          const exited = once(c, 'exit');
          if (c.connected) c.send('close');
          const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }),
      );
    },
  };
}

describe(`FileStore: ${PROCESSES} processes prune one folder at once`, () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sess-multi-sweep-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`deletes each expired file exactly once (${ROUNDS} rounds of 600 expired + 20 live), no errors`, async () => {
    // Written through a clock a minute behind: every record is expired on arrival.
    const past = new FileStore({ dir, sweepInterval: 0, clock: () => Date.now() - 60_000 });
    const live = new FileStore({ dir, sweepInterval: 0 });
    for (let i = 0; i < 20; i++) await live.set(`live-${i}`, emptyRecord(Date.now()), 600);
    const sweepers = await startSweepers(['file', dir]);
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const ids = Array.from({ length: 600 }, (_, i) => `r${round}-${i}`);
        for (let i = 0; i < ids.length; i += 50) await Promise.all(ids.slice(i, i + 50).map((id) => past.set(id, emptyRecord(1), 1)));
        const answers = await sweepers.pruneAll();
        console.log(`[multi-instance] FileStore round ${round}: ${ids.length} expired, deleted per process ${JSON.stringify(answers.map((a) => a.count))}`);
        expect(answers.filter((a) => a.error)).toEqual([]);
        expect(answers.reduce((sum, a) => sum + (a.count ?? 0), 0)).toBe(ids.length);
        for (let i = 0; i < 20; i++) expect(await live.get(`live-${i}`)).toBeDefined();
      }
      expect(readdirSync(join(dir, 'sessions'), { recursive: true }).filter((f) => String(f).endsWith('.json'))).toHaveLength(20);
      expect(sweepers.errors.join('')).toBe('');
    } finally {
      await sweepers.close();
      await past.close();
      await live.close();
    }
  });
});

const hasPostgres = await requireService('postgres');
const SCHEMA = `sess_multi_sweep_${process.pid}`;
const TABLE = 'sess_multi_sweep';
const URL_IN_SCHEMA = `${SERVICES.postgres.url}?options=${encodeURIComponent(`-c search_path=${SCHEMA}`)}`;

describe.skipIf(!hasPostgres)(`KnexStore on PostgreSQL: ${PROCESSES} processes prune one table at once`, () => {
  let knex: Knex;
  beforeAll(async () => {
    const admin = knexFactory({ client: 'pg', connection: SERVICES.postgres.url });
    await admin.raw(`create schema if not exists ${SCHEMA}`);
    await admin.destroy();
    knex = knexFactory({ client: 'pg', connection: URL_IN_SCHEMA, pool: { min: 0, max: 4 } });
    await createSessionTable(knex, TABLE);
  });
  afterAll(async () => {
    await knex?.raw(`drop schema if exists ${SCHEMA} cascade`);
    await knex?.destroy();
  });

  it(`deletes each expired row exactly once (${ROUNDS} rounds of 5,000 expired + 20 live, batches of 500), no errors`, async () => {
    const store = new KnexStore({ knex, tableName: TABLE, pruneInterval: 0 });
    for (let i = 0; i < 20; i++) await store.set(`live-${i}`, emptyRecord(Date.now()), 600);
    const sweepers = await startSweepers(['knex', URL_IN_SCHEMA, TABLE]);
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const expired = Date.now() - 60_000;
        const data = JSON.stringify(emptyRecord(expired));
        const rows = Array.from({ length: 5000 }, (_, i) => ({ id: `r${round}-${i}`, data, expires_at: expired, user_id: i % 10 === 0 ? 'u' : null }));
        await knex.batchInsert(TABLE, rows, 1000);
        const answers = await sweepers.pruneAll();
        console.log(`[multi-instance] KnexStore round ${round}: ${rows.length} expired, deleted per process ${JSON.stringify(answers.map((a) => a.count))}`);
        expect(answers.filter((a) => a.error)).toEqual([]);
        expect(answers.reduce((sum, a) => sum + (a.count ?? 0), 0)).toBe(rows.length);
        expect(Number((await knex(TABLE).count({ n: '*' }))[0]!.n)).toBe(20);
      }
      expect(sweepers.errors.join('')).toBe('');
    } finally {
      await sweepers.close();
      await store.close();
    }
  });

  it('a process whose only open thing is a KnexStore with its sweep timer exits by itself (knex destroyed, close() never called)', async () => {
    const child = spawn(process.execPath, [SWEEPER, 'knex-idle', URL_IN_SCHEMA, TABLE], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c));
    child.stderr.on('data', (c: Buffer) => (output += c));
    const exited = once(child, 'exit');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    const [code, signal] = await exited;
    clearTimeout(timer);
    expect({ code, signal, output: output.trim() }).toEqual({ code: 0, signal: null, output: 'ready' });
  });
});
