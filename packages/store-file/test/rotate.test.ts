import { mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyChange, emptyRecord } from '@sess/core';
import { FileStore } from '@sess/store-file';
import { listFiles, removeTempDirs, sessionPath, sha256, sleep, startWorker, tempDir } from './helpers.js';

afterAll(removeTempDirs);

const indexOf = async (dir: string, user: string): Promise<{ user: string; ids: string[] } | undefined> => {
  try {
    return JSON.parse(await readFile(join(dir, 'users', `${sha256(user)}.json`), 'utf8'));
  } catch {
    return undefined;
  }
};

const exists = (path: string) => readFile(path).then(() => true, () => false);

/** Two ids whose lock files sort the other way round than the ids themselves. */
function crossedIds(): [string, string] {
  for (let i = 0; ; i++) {
    const [a, b] = [`a${i}`, `b${i}`];
    if (sha256(a) > sha256(b)) return [a, b];
  }
}

describe('FileStore versions', () => {
  it('uses the raw file text as the version, equal for two reads of an unchanged file', async () => {
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0 });
    await store.set('s', { ...emptyRecord(1), data: { a: 1 } }, 60);
    const text = await readFile(sessionPath(store.dir, 's'), 'utf8');
    expect((await store.get('s'))?.version).toBe(text);
    expect((await store.get('s'))?.version).toBe(text);
    expect(text.startsWith('{"v":1,"expires":')).toBe(true); // expiry first: readable without parsing the record
    const result = await store.update('s', { ifExists: true, put: { b: 2 }, lastSeen: 2 }, 60, (await store.get('s'))!);
    expect(result.version).toBe(await readFile(sessionPath(store.dir, 's'), 'utf8'));
  });

  it('applies the change to the held record when the file text is unchanged, and to the file when it changed', async () => {
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0 });
    await store.set('s', { ...emptyRecord(1), data: { n: 1 } }, 60);
    const held = (await store.get('s'))!;
    // Same text: the held record is what the file holds, so it is not parsed again.
    // (A held record that differs shows which one the change was applied to.)
    const fast = await store.update('s', { ifExists: true, increment: { n: 1 }, lastSeen: 2 }, 60, { ...held, record: { ...held.record, data: { n: 10 } } });
    expect(fast.record?.data.n).toBe(11);
    // Changed text: the file decides, whatever the caller holds.
    const stale = await store.update('s', { ifExists: true, increment: { n: 1 }, lastSeen: 3 }, 60, held);
    expect(stale.record?.data.n).toBe(12);
    expect((await store.get('s'))?.record.data.n).toBe(12);
  });

  it('still reads the expiry when the held version matches: an expired record is not brought back', async () => {
    let now = 1_000_000;
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0, clock: () => now });
    await store.set('s', { ...emptyRecord(1), data: { old: true } }, 10);
    const held = (await store.get('s'))!;
    now += 10_000;
    expect(await store.update('s', { ifExists: true, put: { late: 1 }, lastSeen: 2 }, 60, held)).toMatchObject({ existed: false, written: false });
    const fresh = await store.update('s', { put: { late: 1 }, lastSeen: 2 }, 60, held);
    expect(fresh).toMatchObject({ existed: false, written: true });
    expect(fresh.record).toEqual(applyChange(undefined, { put: { late: 1 }, lastSeen: 2 }).record);
    expect(await store.rotate('s', 't', { lastSeen: 3 }, 60, held)).toMatchObject({ existed: true }); // 's' was just rewritten
  });
});

describe('FileStore rotate', () => {
  it('leaves the new file, a rotated mark in the old file, no temporaries and no locks, and moves the index entry', async () => {
    let now = 1_000_000;
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0, clock: () => now });
    await store.set('old', { ...emptyRecord(1), data: { keep: 1 }, user: 'ann' }, 60);
    await store.set('other', { ...emptyRecord(1), user: 'ann' }, 60);
    const result = await store.rotate('old', 'new', { put: { signedIn: true }, lastSeen: 2 }, 60, (await store.get('old'))!);
    expect(result).toMatchObject({ existed: true, written: true });
    expect(result.version).toBe(await readFile(sessionPath(store.dir, 'new'), 'utf8'));
    expect(JSON.parse(result.version as string)).toMatchObject({ id: 'new', record: { data: { keep: 1, signedIn: true }, user: 'ann' } });
    // The old file holds the mark (expiry first, as every session file), not the record.
    expect(await readFile(sessionPath(store.dir, 'old'), 'utf8')).toBe(`{"v":1,"expires":${now + 60_000},"id":"old","record":{"sess:rotated":true}}`);
    expect(await store.get('old')).toBeUndefined();
    expect((await indexOf(store.dir, 'ann'))?.ids).toEqual(['other', 'new']);
    const files = await listFiles(store.dir);
    expect(files.filter((f) => f.endsWith('.tmp') || f.startsWith('locks/'))).toEqual([]);
  });

  it('moves the id between user index files when the change sets another user, and drops it on reset', async () => {
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0 });
    await store.set('a', { ...emptyRecord(1), user: 'ann' }, 60);
    await store.rotate('a', 'b', { user: 'bob', lastSeen: 2 }, 60);
    expect(await indexOf(store.dir, 'ann')).toBeUndefined();
    expect((await indexOf(store.dir, 'bob'))?.ids).toEqual(['b']);
    await store.rotate('b', 'c', { reset: true, lastSeen: 3 }, 60); // sign-out: a fresh record without user
    expect(await indexOf(store.dir, 'bob')).toBeUndefined();
    expect((await store.get('c'))?.record).toEqual(emptyRecord(3));
  });

  it('writes nothing for an expired or unreadable old record, and leaves its file to the sweep', async () => {
    let now = 1_000_000;
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0, clock: () => now });
    await store.set('expired', { ...emptyRecord(1), user: 'ann' }, 1);
    await store.set('corrupt', emptyRecord(1), 60);
    await writeFile(sessionPath(store.dir, 'corrupt'), '{"v":1,"expires":9e15,"id":"corr');
    now += 1000;
    for (const from of ['expired', 'corrupt']) {
      expect(await store.rotate(from, `${from}-new`, { put: { x: 1 }, lastSeen: 2 }, 60)).toEqual({ existed: false, written: false, consumedTokens: [], consumedFlash: {} });
      expect(await exists(sessionPath(store.dir, `${from}-new`))).toBe(false);
    }
    expect((await indexOf(store.dir, 'ann'))?.ids).toEqual(['expired']);
    expect(await store.prune()).toBe(2);
    expect(await indexOf(store.dir, 'ann')).toBeUndefined();
  });

  it('treats rotating an id to itself as an update of it', async () => {
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0 });
    await store.set('s', { ...emptyRecord(1), user: 'ann' }, 60);
    expect(await store.rotate('s', 's', { put: { a: 1 }, lastSeen: 2 }, 60)).toMatchObject({ existed: true, written: true });
    expect((await store.get('s'))?.record.data).toEqual({ a: 1 });
    expect((await indexOf(store.dir, 'ann'))?.ids).toEqual(['s']);
  });

  it('includes or refuses every overlapping update from another store instance on the same folder', async () => {
    const dir = await tempDir();
    const [rotator, writer] = [new FileStore({ dir, sweepInterval: 0 }), new FileStore({ dir, sweepInterval: 0 })];
    for (let round = 0; round < 10; round++) {
      const [from, to] = [`r${round}`, `r${round}-new`];
      await rotator.set(from, emptyRecord(1), 60);
      const updates = Array.from({ length: 20 }, (_, i) => writer.update(from, { ifExists: true, increment: { n: 1 }, lastSeen: 2 + i }, 60));
      const [rotation, ...results] = await Promise.all([rotator.rotate(from, to, { put: { rotated: true }, lastSeen: 2 }, 60), ...updates]);
      expect(rotation.existed).toBe(true);
      const landed = results.filter((r) => r.written).length;
      expect(results.every((r) => r.existed === r.written)).toBe(true);
      expect((await writer.get(to))?.record.data.n ?? 0).toBe(landed);
      expect(await writer.get(from)).toBeUndefined();
    }
  });

  it('takes the two lock files in the order of their hashes, whichever id is the old one', async () => {
    const dir = await tempDir();
    const store = new FileStore({ dir, sweepInterval: 0, lockTimeout: 5000, lockStale: 60_000 });
    const other = new FileStore({ dir, sweepInterval: 0, lockTimeout: 300 });
    const [high, low] = crossedIds(); // sha256(high) > sha256(low): the lock of low comes first
    for (const [from, to] of [[high, low], [low, high]] as const) {
      await store.set(from, emptyRecord(1), 60);
      // Another process holds the lock of `low`.
      const lowLock = join(dir, 'locks', `s-${sha256(low)}.lock`);
      await writeFile(lowLock, `${process.pid}\nelsewhere\nplanted\n0\n`);
      const rotation = store.rotate(from, to, { lastSeen: 2 }, 60);
      await sleep(150);
      // Waiting for the first lock, it holds nothing yet: the lock of `high` is free.
      expect(await exists(join(dir, 'locks', `s-${sha256(high)}.lock`))).toBe(false);
      expect(await other.update(high, { increment: { n: 1 }, lastSeen: 2 }, 60)).toMatchObject({ written: true });
      await other.destroy(high);
      if (from === high) await store.set(from, emptyRecord(1), 60);
      await unlink(lowLock);
      expect(await rotation).toMatchObject({ existed: true, written: true });
      expect(await store.get(to)).toBeDefined();
      await store.destroy(to);
    }
  });

  it('never deadlocks two rotations that take the same two locks from either side', async () => {
    const dir = await tempDir();
    const [one, two] = [new FileStore({ dir, sweepInterval: 0, lockTimeout: 3000 }), new FileStore({ dir, sweepInterval: 0, lockTimeout: 3000 })];
    const [a, b] = crossedIds();
    for (let round = 0; round < 20; round++) {
      await one.set(a, { ...emptyRecord(1), data: { from: 'a' } }, 60);
      await one.set(b, { ...emptyRecord(1), data: { from: 'b' } }, 60);
      const started = Date.now();
      const results = await Promise.all([one.rotate(a, b, { lastSeen: 2 }, 60), two.rotate(b, a, { lastSeen: 2 }, 60)]);
      expect(Date.now() - started).toBeLessThan(2000); // never waited out a lock timeout
      expect(results.filter((r) => r.written).length).toBeGreaterThanOrEqual(1);
    }
    expect(await readdir(join(dir, 'locks'))).toEqual([]);
  });

  it('destroyByUser catches a session rotated while it runs: nothing of the user stays signed in', async () => {
    const dir = await tempDir();
    const [app, admin] = [new FileStore({ dir, sweepInterval: 0 }), new FileStore({ dir, sweepInterval: 0 })];
    await admin.get('warm-up'); // folders ready: the sign-out starts at once
    for (let round = 0; round < 10; round++) {
      const user = `user-${round}`;
      const ids = Array.from({ length: 8 }, (_, i) => `${user}-s${i}`);
      for (const id of ids) await app.set(id, { ...emptyRecord(1), user }, 60);
      // The sign-out reads the index first; the regenerates land while it works through it.
      const signOut = admin.destroyByUser(user);
      const rotations = ids.map((id, i) => sleep(i).then(() => app.rotate(id, `${id}-new`, { lastSeen: 2 }, 60)));
      const [count] = await Promise.all([signOut, ...rotations]);
      expect(count).toBe(ids.length); // each session once, under whichever id; a rotated mark is never counted
      expect(await app.listByUser(user)).toEqual([]);
      for (const id of ids) {
        expect(await app.get(id)).toBeUndefined();
        expect(await app.get(`${id}-new`)).toBeUndefined();
      }
    }
  });

  it('listByUser waits out a rotation caught half-way and lists the session under its new id', async () => {
    const dir = await tempDir();
    const store = new FileStore({ dir, sweepInterval: 0, lockStale: 60_000 });
    await store.set('keep', { ...emptyRecord(1), user: 'ann' }, 60);
    // As another process's rotate old -> new leaves it half-way, holding the lock of
    // `new`: new id indexed, its file not written yet, old file already deleted.
    const index = join(dir, 'users', `${sha256('ann')}.json`);
    await writeFile(index, JSON.stringify({ v: 1, user: 'ann', ids: ['keep', 'old', 'new'] }));
    const newLock = join(dir, 'locks', `s-${sha256('new')}.lock`);
    await writeFile(newLock, `${process.pid}\nelsewhere\nplanted\n0\n`);
    const listing = store.listByUser('ann');
    await sleep(150);
    // The rotation finishes: the new file, the old id out of the index, the lock released.
    const doc = { v: 1, expires: Date.now() + 60_000, id: 'new', record: { ...emptyRecord(2), user: 'ann' } };
    await mkdir(dirname(sessionPath(dir, 'new')), { recursive: true });
    await writeFile(sessionPath(dir, 'new'), JSON.stringify(doc));
    await writeFile(index, JSON.stringify({ v: 1, user: 'ann', ids: ['keep', 'new'] }));
    await unlink(newLock);
    expect((await listing).map((s) => s.id)).toEqual(['keep', 'new']);
  });
});

describe('FileStore rotate across processes', () => {
  it('loses no update of a worker process that overlaps a rotation in this one', async () => {
    const dir = await tempDir();
    const store = new FileStore({ dir, sweepInterval: 0 });
    await store.set('proc-old', emptyRecord(1), 60);
    const worker = startWorker(['increment-until-moved', dir, 'proc-old', '50']);
    await worker.message('ready');
    const report = worker.report<{ written: number; moved: number }>();
    worker.child.send('go');
    // Let some increments land first, then regenerate in the middle of the stream.
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && Number((await store.get('proc-old'))?.record.data.n ?? 0) < 20) await new Promise((r) => setTimeout(r, 5));
    const rotation = await store.rotate('proc-old', 'proc-new', { put: { rotated: true }, lastSeen: 2 }, 60);
    const { written, moved } = await report;
    expect((await worker.exited).code).toBe(0);
    expect(rotation.existed).toBe(true);
    expect(written).toBeGreaterThanOrEqual(20);
    expect(moved).toBe(50); // every update after the rotation found the old id's rotated mark: moved, not gone
    expect((await store.get('proc-new'))?.record.data).toEqual({ n: written, rotated: true });
    expect(await store.get('proc-old')).toBeUndefined();
    expect(await readdir(join(dir, 'locks'))).toEqual([]);
  });

  it('lets exactly one of three processes rotate the same id', async () => {
    const dir = await tempDir();
    const store = new FileStore({ dir, sweepInterval: 0 });
    await store.set('contested', { ...emptyRecord(1), user: 'ann' }, 60);
    const workers = ['w0', 'w1', 'w2'].map((to) => startWorker(['rotate', dir, 'contested', to]));
    await Promise.all(workers.map((w) => w.message('ready')));
    const reports = workers.map((w) => w.report<{ existed: boolean; written: boolean; moved: boolean }>());
    for (const w of workers) w.child.send('go');
    const outcomes = await Promise.all(reports);
    await Promise.all(workers.map((w) => w.exited));
    expect(outcomes.filter((o) => o.existed && o.written)).toHaveLength(1);
    expect(outcomes.filter((o) => !o.existed && !o.written && o.moved)).toHaveLength(2); // the losers found the winner's mark
    const moved = (await Promise.all(['w0', 'w1', 'w2'].map(async (id) => ((await store.get(id)) ? id : undefined)))).filter(Boolean);
    expect(moved).toHaveLength(1);
    expect(await store.get('contested')).toBeUndefined();
    expect((await store.listByUser('ann')).map((s) => s.id)).toEqual(moved);
  });
});
