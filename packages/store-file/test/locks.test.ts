import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emptyRecord, StoreError } from '@sess/core';
import { FileStore } from '@sess/store-file';
import { acquireLock } from '../src/file-lock.js';
import { removeTempDirs, sha256, tempDir } from './helpers.js';

afterAll(removeTempDirs);

const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;

async function plantLock(dir: string, id: string, pid: number, host = hostname(), ageMs = 0): Promise<string> {
  const path = join(dir, 'locks', `s-${sha256(id)}.lock`);
  await mkdir(join(dir, 'locks'), { recursive: true });
  await writeFile(path, `${pid}\n${host}\nplanted\n0\n`);
  if (ageMs) {
    const then = new Date(Date.now() - ageMs);
    await utimes(path, then, then);
  }
  return path;
}

const increment = (store: FileStore, id: string) => store.update(id, { ifExists: true, increment: { n: 1 }, lastSeen: 2 }, 60);

describe('FileStore locks', () => {
  it('breaks at once a lock whose holder pid is dead on this host', async () => {
    const dir = await tempDir();
    const store = new FileStore({ dir, sweepInterval: 0, lockTimeout: 1000, lockStale: 60_000 });
    await store.set('s', emptyRecord(1), 60);
    await plantLock(dir, 's', deadPid());
    const started = Date.now();
    await increment(store, 's');
    expect(Date.now() - started).toBeLessThan(500);
    expect((await store.get('s'))?.record.data.n).toBe(1);
  });

  it('breaks an empty lock file (holder killed between open and write) long before lockStale', async () => {
    const dir = await tempDir();
    const store = new FileStore({ dir, sweepInterval: 0, lockTimeout: 5000, lockStale: 60_000 });
    await store.set('s', emptyRecord(1), 60);
    const path = await plantLock(dir, 's', 1);
    await writeFile(path, '');
    const then = new Date(Date.now() - 2500);
    await utimes(path, then, then);
    const started = Date.now();
    await increment(store, 's');
    expect(Date.now() - started).toBeLessThan(1000);
    expect((await store.get('s'))?.record.data.n).toBe(1);
  });

  it('leaves a fresh empty lock file alone: its holder is between open and write', async () => {
    const dir = await tempDir();
    const store = new FileStore({ dir, sweepInterval: 0, lockTimeout: 300, lockStale: 60_000 });
    await store.set('s', emptyRecord(1), 60);
    const path = await plantLock(dir, 's', 1);
    await writeFile(path, '');
    await expect(increment(store, 's')).rejects.toBeInstanceOf(StoreError);
  });

  it('prune() returns 0 at once while another live process holds the sweep lock, and sweeps once it is free', async () => {
    const dir = await tempDir();
    const store = new FileStore({ dir, sweepInterval: 0, lockTimeout: 5000, lockStale: 60_000 });
    await store.set('old', emptyRecord(1), 0.05);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const sweepLock = join(dir, 'locks', 'sweep.lock');
    await writeFile(sweepLock, `${process.pid}\n${hostname()}\nplanted\n0\n`);
    const started = Date.now();
    expect(await store.prune()).toBe(0);
    expect(Date.now() - started).toBeLessThan(2000);
    await unlink(sweepLock);
    expect(await store.prune()).toBe(1);
  });

  it('a holder whose lock was broken as stale never removes the lock the next holder took, and each holder removes only its own', async () => {
    const dir = await tempDir();
    const path = join(dir, 'held.lock');
    const options = { timeout: 2000, stale: 50, mode: 0o600 };
    for (let round = 0; round < 3; round++) {
      const first = await acquireLock(path, options);
      await new Promise((r) => setTimeout(r, 120)); // the first holder is slow: its lock turns stale
      const second = await acquireLock(path, options); // breaks the first lock and takes the name
      const secondToken = await readFile(path, 'utf8');
      await first(); // the late release must leave the second holder's lock alone
      expect(await readFile(path, 'utf8')).toBe(secondToken);
      await second();
      await expect(readFile(path, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    }
    const held = await acquireLock(path, options);
    await held();
    await expect(readFile(path, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await readdir(dir)).filter((f) => f.includes('held'))).toEqual([]); // nothing left aside
  });

  it('reads a session file of any size whole (the read stops at a short read)', async () => {
    const dir = await tempDir();
    const store = new FileStore({ dir, sweepInterval: 0 });
    for (const size of [0, 1, 16 * 1024 - 200, 16 * 1024, 40_000, 300_000]) {
      const record = { ...emptyRecord(1), data: { blob: 'é'.repeat(size / 2) + 'x'.repeat(size % 2) } };
      await store.set(`big-${size}`, record, 60);
      expect((await store.get(`big-${size}`))?.record.data).toEqual(record.data);
    }
  });

  it('breaks a lock older than lockStale even when its pid runs', async () => {
    const dir = await tempDir();
    const store = new FileStore({ dir, sweepInterval: 0, lockTimeout: 1000, lockStale: 5000 });
    await store.set('s', emptyRecord(1), 60);
    await plantLock(dir, 's', process.pid, hostname(), 60_000);
    await increment(store, 's');
    expect((await store.get('s'))?.record.data.n).toBe(1);
  });

  it('waits for a live lock, then fails with a StoreError E_STORE_TIMEOUT that names the fix', async () => {
    const dir = await tempDir();
    const store = new FileStore({ dir, sweepInterval: 0, lockTimeout: 200, lockStale: 60_000 });
    await store.set('s', emptyRecord(1), 60);
    // A fresh lock of another host is never judged by pid: only age can break it.
    const path = await plantLock(dir, 's', deadPid(), 'another-host');
    const started = Date.now();
    const err = await increment(store, 's').catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: 'E_STORE_TIMEOUT', status: 503 });
    expect((err as Error).message).toBe(
      `[sess] FileStore waited 200 ms for the lock "${path}" held by another process or request. If no process is using it, delete the file; if writes are just slow, raise the lockTimeout option.`,
    );
    expect(await readFile(path, 'utf8')).toContain('planted'); // not broken
    expect((await store.get('s'))?.record.data.n).toBeUndefined();
  });

  it('lets exactly one of many waiters break a stale lock: 10 instances x 10 increments = 100', async () => {
    const dir = await tempDir();
    const stores = Array.from({ length: 10 }, () => new FileStore({ dir, sweepInterval: 0, lockStale: 60_000 }));
    await stores[0]!.set('s', emptyRecord(1), 60);
    await plantLock(dir, 's', deadPid());
    await Promise.all(stores.map(async (store) => {
      for (let i = 0; i < 10; i++) await increment(store, 's');
    }));
    expect((await stores[0]!.get('s'))?.record.data.n).toBe(100);
  });
});
