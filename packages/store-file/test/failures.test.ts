import { execFileSync } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emptyRecord, StoreError } from '@sess/core';
import { FileStore } from '@sess/store-file';
import { listFiles, removeTempDirs, tempDir, WORKER } from './helpers.js';

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
    for (const call of [store.get('s'), store.update('s', { lastSeen: 1 }, 60), store.destroy('s'), store.rotate('s', 't', { lastSeen: 1 }, 60), store.prune(), store.listByUser('u'), store.destroyByUser('u')]) {
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
    expect((await store.get('s'))?.record.data.back).toBe(true);
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
      expect((await store.get('s'))?.record.data.v).toBe('before');
      // A regenerate that cannot write the new file keeps the session under the old id.
      const rotated = await storeError(store.rotate('s', 't', { put: { v: 'y'.repeat(100_000) }, lastSeen: 2 }, 60));
      expect(rotated).toMatchObject({ code: 'E_STORE', status: 503, cause: { code: 'ENOSPC' } });
      expect((await store.get('s'))?.record.data.v).toBe('before');
      expect(await store.get('t')).toBeUndefined();
      expect((await readdir(join(mount, 'store', 'sessions'), { recursive: true })).filter((f) => String(f).endsWith('.tmp'))).toEqual([]);
    } finally {
      execFileSync('umount', [mount]);
    }
  });
});

describe('FileStore refusing a value (E_STORE_REFUSED, 500: the folder works, the value cannot be kept)', () => {
  it('refuses a file over the process file size limit (EFBIG under ulimit -f), keeps the record, leaves no temporary', async () => {
    const dir = await tempDir();
    // 64 blocks (32-64 KB, by shell): a small record fits, a 1 MB one does not. Node ignores SIGXFSZ, so write() fails with EFBIG.
    const out = execFileSync('sh', ['-c', `ulimit -f 64 && exec "${process.execPath}" "${WORKER}" big "${dir}" s`], { encoding: 'utf8' });
    const { small, big, after } = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(small).toEqual({ ok: true });
    expect(big).toMatchObject({ ok: false, name: 'StoreError', code: 'E_STORE_REFUSED', status: 500, cause: 'EFBIG' });
    expect(big.message).toMatch(/^\[sess\] FileStore refused to update a session in ".*": EFBIG: file too large.* raise the limit\.$/);
    expect(after).toBe('small');
    expect((await listFiles(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses a record that is not JSON, leaving the stored record and the user index as they were', async () => {
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0 });
    await store.set('s', { ...emptyRecord(1), data: { v: 'before' } }, 60);
    const err = await storeError(store.set('s', { ...emptyRecord(1), user: 'ann', data: { big: 10n as never } }, 60));
    expect(err).toMatchObject({ code: 'E_STORE_REFUSED', status: 500 });
    expect(err.cause).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(/^\[sess\] FileStore refused to write a session in ".*": the record is not JSON \(.*BigInt.*\)\. Keep only JSON values in the session\.$/);
    expect((await store.get('s'))?.record.data.v).toBe('before');
    expect(await store.listByUser('ann')).toEqual([]);
    expect((await listFiles(store.dir)).filter((f) => f.startsWith('users/') || f.endsWith('.tmp'))).toEqual([]);
  });
});
