import { readdir } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { emptyRecord } from '@sess/core';
import { FileStore } from '@sess/store-file';
import { listFiles, removeTempDirs, sleep, startWorker, tempDir } from './helpers.js';

afterAll(removeTempDirs);

describe('FileStore across processes', () => {
  it('loses no increment when two processes update one session at once (2 x 100 = 200)', async () => {
    const dir = await tempDir();
    const store = new FileStore({ dir, sweepInterval: 0 });
    await store.set('shared', emptyRecord(1), 60);
    const workers = [startWorker(['increment', dir, 'shared', '100']), startWorker(['increment', dir, 'shared', '100'])];
    await Promise.all(workers.map((w) => w.message('ready')));
    const started = Date.now();
    for (const w of workers) w.child.send('go');
    await Promise.all(workers.map((w) => w.message('done')));
    const elapsed = Date.now() - started;
    expect((await Promise.all(workers.map((w) => w.exited))).map((e) => e.code)).toEqual([0, 0]);
    expect((await store.get('shared'))?.record.data.n).toBe(200);
    expect(await readdir(`${dir}/locks`)).toEqual([]); // every lock released
    console.info(`[store-file] 200 cross-process updates took ${elapsed} ms`);
  });

  it('leaves every session readable after a writer is killed with SIGKILL mid-write, and prune() removes its temporaries', async () => {
    const dir = await tempDir();
    const writer = startWorker(['writer', dir, 'k']);
    await writer.message('ready');
    await sleep(400); // 2 MB records: the kill lands during a write most of the time
    writer.child.kill('SIGKILL');
    expect((await writer.exited).signal).toBe('SIGKILL');

    // lockStale of a minute: a lock waited out rather than broken would take that long.
    const store = new FileStore({ dir, sweepInterval: 0, tempMaxAge: 0, lockStale: 60_000 });
    for (let i = 0; i < 5; i++) {
      const record = (await store.get(`k-${i}`))?.record;
      expect(record?.data.i).toBe(i);
      expect(record?.data.big).toHaveLength(2_000_000);
    }
    const temps = (await listFiles(dir)).filter((f) => f.endsWith('.tmp'));
    // The dead writer's locks are broken at once (its pid is gone), not after lockStale.
    const started = Date.now();
    for (let i = 0; i < 5; i++) await store.update(`k-${i}`, { ifExists: true, put: { after: true }, lastSeen: 2 }, 60);
    // Broken at once: well under lockStale (five 2 MB rewrites take about a second, more on a loaded CI machine).
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await store.prune()).toBe(temps.length);
    expect((await listFiles(dir)).filter((f) => f.endsWith('.tmp') || f.startsWith('locks/'))).toEqual([]);
    for (let i = 0; i < 5; i++) expect((await store.get(`k-${i}`))?.record.data.after).toBe(true);
    console.info(`[store-file] SIGKILL left ${temps.length} orphaned temporaries`);
  });

  it('does not keep a process alive with its sweep timer', async () => {
    const dir = await tempDir();
    const idle = startWorker(['idle', dir, 'x']);
    await idle.message('ready');
    const exit = await Promise.race([idle.exited, sleep(3000).then(() => 'still running' as const)]);
    if (exit === 'still running') idle.child.kill('SIGKILL');
    expect(exit).toEqual({ code: 0, signal: null });
  });
});
