import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emptyRecord } from '@sess/core';
import { FileStore } from '@sess/store-file';
import { writeAtomic } from '../src/atomic-write.js';
import { removeTempDirs, sessionPath, tempDir } from './helpers.js';

afterAll(removeTempDirs);

const payload = (i: number) => `${i}:`.padEnd(64 * 1024 + (i % 7) * 1000, String.fromCharCode(97 + (i % 26)));

describe('FileStore atomic writes', () => {
  it('never shows a reader a partial file during 200 overlapping raw writes to one path', async () => {
    const dir = await tempDir();
    const path = join(dir, 'one.json');
    await writeAtomic(path, JSON.stringify({ i: -1, body: payload(0) }), { mode: 0o600, fsync: false });
    let writing = true;
    let reads = 0;
    const reader = (async () => {
      while (writing) {
        const doc = JSON.parse(await readFile(path, 'utf8')); // throws on a partial file
        expect(doc.body === undefined || doc.i === -1 || doc.body === payload(doc.i)).toBe(true);
        reads++;
      }
    })();
    await Promise.all(Array.from({ length: 200 }, (_, i) => writeAtomic(path, JSON.stringify({ i, body: payload(i) }), { mode: 0o600, fsync: false })));
    writing = false;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect(await readdir(dir)).toEqual(['one.json']); // no temporaries left behind
  });

  it('never shows get() a partial record during 200 overlapping set() calls from two store instances', async () => {
    const dir = await tempDir();
    const [a, b] = [new FileStore({ dir, sweepInterval: 0 }), new FileStore({ dir, sweepInterval: 0 })];
    await a.set('id', { ...emptyRecord(1), data: { i: -1, body: 'start' } }, 60);
    let writing = true;
    const seen = new Set<number>();
    const reader = (async () => {
      while (writing) {
        const record = (await b.get('id'))?.record;
        expect(record).toBeDefined();
        const i = record!.data.i as number;
        if (i >= 0) expect(record!.data.body).toBe(payload(i));
        seen.add(i);
      }
    })();
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).set('id', { ...emptyRecord(1), data: { i, body: payload(i) } }, 60)),
    );
    writing = false;
    await reader;
    expect(seen.size).toBeGreaterThan(1);
    const last = JSON.parse(await readFile(sessionPath(dir, 'id'), 'utf8'));
    expect(last.record.data.body).toBe(payload(last.record.data.i));
  });
});
