import { mkdir, readFile, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emptyRecord } from '@sess/core';
import { FileStore } from '@sess/store-file';
import { listFiles, removeTempDirs, sessionPath, sha256, sleep, tempDir } from './helpers.js';

afterAll(removeTempDirs);

const exists = (path: string) => stat(path).then(() => true, () => false);

async function plant(path: string, content: string, ageMs = 0): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
  if (ageMs) {
    const then = new Date(Date.now() - ageMs);
    await utimes(path, then, then);
  }
}

describe('FileStore sweeps', () => {
  it('prune() removes corrupt, truncated and expired files and old temporaries, keeps live files and fresh temporaries', async () => {
    let now = Date.now();
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0, clock: () => now });
    const dir = store.dir;
    for (const id of ['live', 'garbage', 'truncated']) await store.set(id, { ...emptyRecord(1), data: { id } }, 600);
    await store.set('expired', { ...emptyRecord(1), user: 'ann' }, 1);
    await writeFile(sessionPath(dir, 'garbage'), '\u0000\u0001not json');
    const whole = await readFile(sessionPath(dir, 'truncated'), 'utf8');
    await writeFile(sessionPath(dir, 'truncated'), whole.slice(0, whole.length / 2));
    const oldTemp = `${sessionPath(dir, 'live')}.123-abc.tmp`;
    const freshTemp = `${sessionPath(dir, 'live')}.123-def.tmp`;
    await plant(oldTemp, '{"half', 61_000);
    await plant(freshTemp, '{"in flight');
    now += 5000;

    expect(await store.get('garbage')).toBeUndefined();
    expect(await store.get('truncated')).toBeUndefined();
    expect(await store.prune()).toBe(4); // garbage, truncated, expired, old temporary
    expect(await exists(sessionPath(dir, 'garbage'))).toBe(false);
    expect(await exists(sessionPath(dir, 'truncated'))).toBe(false);
    expect(await exists(sessionPath(dir, 'expired'))).toBe(false);
    expect(await exists(oldTemp)).toBe(false);
    expect(await exists(freshTemp)).toBe(true);
    expect(await exists(join(dir, 'users', `${sha256('ann')}.json`))).toBe(false); // index entry went with it
    expect((await store.get('live'))?.record.data.id).toBe('live');
    expect(await store.prune()).toBe(0);
  });

  it('counts each expired file once when several instances prune one folder at the same time', async () => {
    const dir = await tempDir();
    let now = Date.now();
    const stores = Array.from({ length: 4 }, () => new FileStore({ dir, sweepInterval: 0, clock: () => now }));
    for (let i = 0; i < 40; i++) await stores[i % 4]!.set(`e${i}`, emptyRecord(1), 1);
    await stores[0]!.set('live', emptyRecord(1), 600);
    now += 2000;
    const counts = await Promise.all(stores.map((s) => s.prune()));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(40);
    expect((await listFiles(join(dir, 'sessions'))).length).toBe(1);
    expect(await stores[1]!.get('live')).toBeDefined();
  });

  it('never deletes a session that is rewritten while a prune from another instance runs', async () => {
    const dir = await tempDir();
    let now = Date.now();
    const [writer, sweeper] = [new FileStore({ dir, sweepInterval: 0, clock: () => now }), new FileStore({ dir, sweepInterval: 0, clock: () => now })];
    const ids = Array.from({ length: 60 }, (_, i) => `r${i}`);
    for (const id of ids) await writer.set(id, emptyRecord(1), 1);
    now += 2000; // all expired, and about to be swept...
    const [removed] = await Promise.all([
      sweeper.prune(),
      Promise.all(ids.map((id) => writer.update(id, { put: { revived: true }, lastSeen: 2 }, 60))), // ...while each is written anew
    ]);
    for (const id of ids) expect((await writer.get(id))?.record.data.revived).toBe(true);
    expect(removed).toBeLessThanOrEqual(ids.length);
  });

  it('sweeps in the background on an interval, and stops when closed', async () => {
    let now = Date.now();
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0.1, clock: () => now });
    await store.set('a', emptyRecord(1), 1);
    now += 2000;
    for (let i = 0; i < 40 && (await exists(sessionPath(store.dir, 'a'))); i++) await sleep(50);
    expect(await exists(sessionPath(store.dir, 'a'))).toBe(false);
    await store.close();
    await store.set('b', emptyRecord(1), 1);
    now += 2000;
    await sleep(400);
    expect(await exists(sessionPath(store.dir, 'b'))).toBe(true);
  });

  it('examines at most sweepBatch files per background run, and reaches them all over several runs', async () => {
    let now = Date.now();
    const dir = await tempDir();
    const setup = new FileStore({ dir, sweepInterval: 0, clock: () => now });
    for (let i = 0; i < 20; i++) await setup.set(`e${i}`, emptyRecord(1), 1);
    now += 2000;
    const store = new FileStore({ dir, sweepInterval: 0.1, sweepBatch: 2, clock: () => now });
    const remaining = async () => (await listFiles(join(dir, 'sessions'))).length;
    const seen: number[] = [];
    for (let i = 0; i < 150; i++) {
      const left = await remaining();
      if (seen.at(-1) !== left) seen.push(left);
      if (left === 0) break;
      await sleep(20);
    }
    await store.close();
    expect(seen.at(-1)).toBe(0);
    expect(seen[1]).toBeGreaterThanOrEqual(16); // the first run removed at most 2 (4 if two runs fell between polls)
    expect(seen.length).toBeGreaterThanOrEqual(6); // removal came in many small steps
  });

  it('skips a background sweep while another process holds the sweep lock', async () => {
    let now = Date.now();
    const dir = await tempDir();
    const lock = join(dir, 'locks', 'sweep.lock');
    await plant(lock, `${process.pid}\nsomewhere-else\nx\n0\n`); // a live sweeper on another host
    const store = new FileStore({ dir, sweepInterval: 0.1, clock: () => now });
    await store.set('a', emptyRecord(1), 1);
    now += 2000;
    await sleep(500);
    expect(await exists(sessionPath(store.dir, 'a'))).toBe(true);
    await unlink(lock); // that sweeper is done: the next run here sweeps
    for (let i = 0; i < 40 && (await exists(sessionPath(store.dir, 'a'))); i++) await sleep(50);
    expect(await exists(sessionPath(store.dir, 'a'))).toBe(false);
    await store.close();
  });
});
