import { execFileSync } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emptyRecord, StoreError } from '@sess/core';
import { FileStore } from '@sess/store-file';
import { removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

async function storeError(promise: Promise<unknown>): Promise<StoreError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(StoreError);
  return err as StoreError;
}

describe('FileStore on a broken folder', () => {
  // Tests run as root, where chmod does not stop writes: a path under a regular
  // file fails with ENOTDIR for root too.
  it('gives a StoreError with the cause when the folder cannot be created (path under a file)', async () => {
    const file = join(await tempDir(), 'plain-file');
    await writeFile(file, 'not a folder');
    const store = new FileStore({ dir: join(file, 'sessions'), sweepInterval: 0 });
    const err = await storeError(store.set('s', emptyRecord(1), 60));
    expect(err).toMatchObject({ code: 'E_STORE', status: 503, cause: { code: 'ENOTDIR' } });
    expect(err.message).toBe(
      `[sess] FileStore could not write a session in "${join(file, 'sessions')}": ${(err.cause as Error).message}. ` +
        'Check that the folder exists or can be created, is a folder, and is writable by this process.',
    );
    for (const call of [store.get('s'), store.update('s', { lastSeen: 1 }, 60), store.destroy('s'), store.touch('s', 60), store.prune(), store.listByUser('u'), store.destroyByUser('u')]) {
      expect((await storeError(call)).cause).toMatchObject({ code: 'ENOTDIR' });
    }
  });

  it('gives a StoreError, not a crash, when its folder is replaced by a file while in use', async () => {
    const dir = join(await tempDir(), 'store');
    const store = new FileStore({ dir, sweepInterval: 0 });
    await store.set('s', emptyRecord(1), 60);
    await rm(dir, { recursive: true });
    await writeFile(dir, 'surprise');
    expect((await storeError(store.get('s'))).cause).toMatchObject({ code: 'ENOTDIR' });
    expect((await storeError(store.set('s', emptyRecord(1), 60))).message).toMatch(/^\[sess\] FileStore could not write a session in /);
    expect((await storeError(store.update('s', { put: { a: 1 }, lastSeen: 1 }, 60))).message).toMatch(/^\[sess\] FileStore could not update a session in /);
  });

  it('recreates its folder when it was deleted while in use', async () => {
    const dir = join(await tempDir(), 'store');
    const store = new FileStore({ dir, sweepInterval: 0 });
    await store.set('s', emptyRecord(1), 60);
    await rm(dir, { recursive: true });
    expect(await store.get('s')).toBeUndefined();
    await store.update('s', { put: { back: true }, lastSeen: 1 }, 60);
    expect((await store.get('s'))?.data.back).toBe(true);
  });

  it('gives a StoreError on a full disk and keeps the previous record intact', async (ctx) => {
    const mount = join(await tempDir(), 'tiny');
    await mkdir(mount);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', mount], { stdio: 'ignore' });
    } catch {
      ctx.skip('cannot mount a small tmpfs here (needs root): full-disk case not run');
    }
    try {
      const store = new FileStore({ dir: join(mount, 'store'), sweepInterval: 0 });
      await store.set('s', { ...emptyRecord(1), data: { v: 'before' } }, 60);
      await writeFile(join(mount, 'filler'), Buffer.alloc(1024 * 1024)).catch(() => undefined); // fills the disk, ENOSPC
      const err = await storeError(store.set('s', { ...emptyRecord(1), data: { v: 'x'.repeat(100_000) } }, 60));
      expect(err.cause).toMatchObject({ code: 'ENOSPC' });
      expect(err.message).toMatch(/Free disk space \(or quota\) on that file system\.$/);
      expect((await store.get('s'))?.data.v).toBe('before');
      expect((await readdir(join(mount, 'store', 'sessions'), { recursive: true })).filter((f) => String(f).endsWith('.tmp'))).toEqual([]);
    } finally {
      execFileSync('umount', [mount]);
    }
  });
});
