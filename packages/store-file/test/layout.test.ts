import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, emptyRecord } from '@sess/core';
import { FileStore } from '@sess/store-file';
import { listFiles, removeTempDirs, sessionPath, sha256, tempDir } from './helpers.js';

afterAll(removeTempDirs);

describe('FileStore file layout', () => {
  it('names each session file by the sha256 of its id, so odd ids never become paths', async () => {
    const parent = await tempDir();
    const dir = join(parent, 'store');
    const store = new FileStore({ dir, sweepInterval: 0 });
    const ids = ['../../../etc/passwd', '/absolute', 'a/b\\c', 'x'.repeat(100_000), '\u0000nul', 'ünï 🎉', '.', '..', ''];
    for (const [i, id] of ids.entries()) await store.set(id, { ...emptyRecord(1), data: { i } }, 60);
    for (const [i, id] of ids.entries()) expect((await store.get(id))?.record.data.i).toBe(i);
    // Nothing was written beside the store's folder.
    expect(await readdir(parent)).toEqual(['store']);
    const files = await listFiles(dir);
    for (const id of ids) expect(files).toContain(sessionPath(dir, id).slice(dir.length + 1));
    for (const f of files) expect(f).toMatch(/^(sessions\/[0-9a-f]{2}\/[0-9a-f]{64}\.json|users\/[0-9a-f]{64}\.json)$/);
    await store.close();
  });

  it('creates a missing folder with mode 0700 and session files with mode 0600', async () => {
    const dir = join(await tempDir(), 'deep', 'er', 'sessions');
    const store = new FileStore({ dir, sweepInterval: 0 });
    await store.set('abc', { ...emptyRecord(1), user: 'u1' }, 60);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, 'sessions'))).mode & 0o777).toBe(0o700);
    expect((await stat(sessionPath(dir, 'abc'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'users', `${sha256('u1')}.json`))).mode & 0o777).toBe(0o600);
  });

  it('keeps the expiry in the file, and reads an expired file as absent', async () => {
    let now = 1_000_000;
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0, clock: () => now });
    await store.set('s', emptyRecord(1), 30);
    const doc = JSON.parse(await readFile(sessionPath(store.dir, 's'), 'utf8'));
    expect(doc).toMatchObject({ v: 1, id: 's', expires: 1_000_000 + 30_000 });
    now += 29_999;
    expect(await store.get('s')).toBeDefined();
    now += 1;
    expect(await store.get('s')).toBeUndefined();
  });

  it('refuses a missing dir option with a ConfigError that names the fix', () => {
    expect(() => new FileStore({} as never)).toThrow(ConfigError);
    expect(() => new FileStore({ dir: '' })).toThrow("[sess] FileStore needs the `dir` option, the folder for session files: new FileStore({ dir: './.sessions' }).");
    expect(() => new FileStore({ dir: '/tmp/x', lockTimeout: -1 })).toThrow('[sess] FileStore option `lockTimeout` must be a non-negative number, got -1.');
  });
});
