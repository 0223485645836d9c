import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emptyRecord } from '@sess/core';
import { FileStore } from '@sess/store-file';
import { listFiles, removeTempDirs, sessionPath, sha256, sleep, tempDir } from './helpers.js';

afterAll(removeTempDirs);

const exists = (path: string) => stat(path).then(() => true, () => false);
const indexFile = (dir: string, user: string) => join(dir, 'users', `${sha256(user)}.json`);
const indexOf = async (dir: string, user: string): Promise<{ user: string; ids: string[] } | undefined> => {
  try {
    return JSON.parse(await readFile(indexFile(dir, user), 'utf8'));
  } catch {
    return undefined;
  }
};
/** The text of a rotated mark as FileStore writes it. */
const markText = (id: string, expires: number) => `{"v":1,"expires":${expires},"id":${JSON.stringify(id)},"record":{"sess:rotated":true}}`;
const late = { ifExists: true, increment: { n: 1 }, lastSeen: 9 } as const;

describe('FileStore rotated marks', () => {
  it('keep the old id for min(60 s, ttl): moved until then, absent for get throughout, then plain absent', async () => {
    let now = 1_000_000;
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0, clock: () => now });
    await store.set('long', emptyRecord(1), 3600);
    await store.set('short', emptyRecord(1), 3600);
    await store.rotate('long', 'long-new', { lastSeen: 2 }, 600);
    await store.rotate('short', 'short-new', { lastSeen: 2 }, 10); // a record ttl under 60 s bounds the mark
    expect(await readFile(sessionPath(store.dir, 'long'), 'utf8')).toBe(markText('long', now + 60_000));
    expect(await readFile(sessionPath(store.dir, 'short'), 'utf8')).toBe(markText('short', now + 10_000));

    now += 9_999;
    for (const id of ['long', 'short']) {
      expect(await store.get(id)).toBeUndefined();
      expect(await store.update(id, late, 60)).toEqual({ existed: false, written: false, consumedTokens: [], consumedFlash: {}, moved: true });
    }
    now += 1; // the short mark expired
    expect(await store.update('short', late, 60)).toEqual({ existed: false, written: false, consumedTokens: [], consumedFlash: {} });
    expect(await store.rotate('short', 'x', { lastSeen: 3 }, 60)).toEqual({ existed: false, written: false, consumedTokens: [], consumedFlash: {} });
    expect(await store.update('long', late, 60)).toMatchObject({ moved: true });
    now += 50_000; // 60 s after the rotation: the long mark expired too
    expect(await store.update('long', late, 60)).toEqual({ existed: false, written: false, consumedTokens: [], consumedFlash: {} });
    expect(await store.get('long')).toBeUndefined();
    expect(await exists(sessionPath(store.dir, 'x'))).toBe(false);
  });

  it('are removed by prune() once expired (and counted), and kept while live', async () => {
    let now = 1_000_000;
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0, clock: () => now });
    for (const id of ['a', 'b']) await store.set(id, emptyRecord(1), 3600);
    await store.rotate('a', 'a2', { lastSeen: 2 }, 3600);
    now += 30_000;
    await store.rotate('b', 'b2', { lastSeen: 2 }, 3600);
    expect(await store.prune()).toBe(0); // both marks still live
    expect(await exists(sessionPath(store.dir, 'a'))).toBe(true);
    now += 30_000; // a's mark expired, b's has 30 s left
    expect(await store.prune()).toBe(1);
    expect(await exists(sessionPath(store.dir, 'a'))).toBe(false);
    expect(await store.update('b', late, 60)).toMatchObject({ moved: true });
    now += 30_000;
    expect(await store.prune()).toBe(1);
    const sessions = join(store.dir, 'sessions');
    expect((await listFiles(sessions)).sort()).toEqual(['a2', 'b2'].map((id) => sessionPath(store.dir, id).slice(sessions.length + 1)).sort());
    expect((await store.get('a2'))?.record).toBeDefined();
  });

  it('are removed by the background sweep once expired', async () => {
    let now = Date.now();
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0.1, clock: () => now });
    await store.set('a', emptyRecord(1), 3600);
    await store.rotate('a', 'a2', { lastSeen: 2 }, 3600);
    now += 60_000;
    for (let i = 0; i < 40 && (await exists(sessionPath(store.dir, 'a'))); i++) await sleep(50);
    await store.close();
    expect(await exists(sessionPath(store.dir, 'a'))).toBe(false);
    expect(await store.get('a2')).toBeDefined();
  });

  it('give way to a write: update without ifExists and set create a record over a mark, destroy deletes it', async () => {
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0 });
    for (const id of ['u', 's', 'd']) {
      await store.set(id, { ...emptyRecord(1), data: { old: true } }, 60);
      await store.rotate(id, `${id}-new`, { lastSeen: 2 }, 60);
    }
    const created = await store.update('u', { increment: { n: 1 }, lastSeen: 3 }, 60);
    expect(created).toMatchObject({ existed: false, written: true, record: { data: { n: 1 }, createdAt: 3 } });
    expect(created.moved).toBeUndefined();
    expect((await store.get('u'))?.version).toBe(created.version);
    await store.set('s', { ...emptyRecord(4), user: 'ann' }, 60);
    expect((await store.listByUser('ann')).map((s) => s.id)).toEqual(['s']);
    expect(await store.update('s', late, 60)).toMatchObject({ existed: true, written: true });
    await store.destroy('d');
    expect(await exists(sessionPath(store.dir, 'd'))).toBe(false);
    expect((await store.update('d', late, 60)).moved).toBeUndefined();
  });

  it('stay as they are when the marked id is rotated again, and are replaced when a rotation moves a session onto their id', async () => {
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0 });
    await store.set('a', { ...emptyRecord(1), data: { v: 1 } }, 60);
    await store.rotate('a', 'b', { lastSeen: 2 }, 60);
    const mark = await readFile(sessionPath(store.dir, 'a'), 'utf8');
    expect(await store.rotate('a', 'c', { put: { stolen: true }, lastSeen: 3 }, 60)).toMatchObject({ existed: false, written: false, moved: true });
    expect(await readFile(sessionPath(store.dir, 'a'), 'utf8')).toBe(mark);
    expect(await exists(sessionPath(store.dir, 'c'))).toBe(false);
    // Back onto the marked id: the record takes its place, and b holds the mark now.
    expect(await store.rotate('b', 'a', { lastSeen: 4 }, 60)).toMatchObject({ existed: true, written: true });
    expect((await store.get('a'))?.record.data).toEqual({ v: 1 });
    expect(await store.update('b', late, 60)).toMatchObject({ moved: true });
    expect(await store.update('a', late, 60)).toMatchObject({ existed: true, written: true });
  });

  it('name their own id: a mark planted in the file of another id is no mark for it (and no record)', async () => {
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0 });
    await store.set('x', emptyRecord(1), 60);
    await writeFile(sessionPath(store.dir, 'x'), markText('someone-else', Date.now() + 60_000));
    expect(await store.get('x')).toBeUndefined();
    expect((await store.update('x', late, 60)).moved).toBeUndefined();
    expect((await store.rotate('x', 'y', { lastSeen: 2 }, 60)).moved).toBeUndefined();
    // Any object with the own key "sess:rotated" is a mark, whatever its value holds.
    await writeFile(sessionPath(store.dir, 'x'), `{"v":1,"expires":${Date.now() + 60_000},"id":"x","record":{"sess:rotated":"nonce-1"}}`);
    expect(await store.update('x', late, 60)).toMatchObject({ written: false, moved: true });
  });
});

describe('FileStore rotated marks and the user index', () => {
  it('are in no index, never listed, never counted or deleted by destroyByUser', async () => {
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0 });
    await store.set('a', { ...emptyRecord(1), user: 'ann' }, 60);
    await store.set('b', { ...emptyRecord(1), user: 'ann' }, 60);
    await store.rotate('a', 'a2', { lastSeen: 2 }, 60);
    expect((await indexOf(store.dir, 'ann'))?.ids).toEqual(['b', 'a2']);
    expect((await store.listByUser('ann')).map((s) => s.id)).toEqual(['b', 'a2']);
    expect(await store.destroyByUser('ann')).toBe(2);
    expect(await indexOf(store.dir, 'ann')).toBeUndefined();
    // The mark outlives the sign-out: a late change on the old id still learns it moved.
    expect(await store.update('a', late, 60)).toMatchObject({ moved: true });
  });

  it('named by a stray index entry (a crash between the mark and the index edit) are skipped, dropped from the index, and left in place', async () => {
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0 });
    await store.set('keep', { ...emptyRecord(1), user: 'ann' }, 60);
    await store.set('old', { ...emptyRecord(1), user: 'ann' }, 60);
    await store.rotate('old', 'new', { lastSeen: 2 }, 60);
    const mark = await readFile(sessionPath(store.dir, 'old'), 'utf8');
    const stray = JSON.stringify({ v: 1, user: 'ann', ids: ['keep', 'old', 'new'] });
    await writeFile(indexFile(store.dir, 'ann'), stray);

    expect((await store.listByUser('ann')).map((s) => s.id)).toEqual(['keep', 'new']);
    expect(await store.prune()).toBe(0); // the live mark stays; its index entry goes
    expect((await indexOf(store.dir, 'ann'))?.ids).toEqual(['keep', 'new']);
    expect(await readFile(sessionPath(store.dir, 'old'), 'utf8')).toBe(mark);

    await writeFile(indexFile(store.dir, 'ann'), stray);
    expect(await store.destroyByUser('ann', 'keep')).toBe(1); // 'new' only: the mark is no session
    expect((await indexOf(store.dir, 'ann'))?.ids).toEqual(['keep']);
    expect(await readFile(sessionPath(store.dir, 'old'), 'utf8')).toBe(mark);
    expect(await store.get('new')).toBeUndefined();
    expect(await store.get('keep')).toBeDefined();
  });

  it('listByUser during a stream of rotations lists each session once, and never a mark', async () => {
    const dir = await tempDir();
    const [app, admin] = [new FileStore({ dir, sweepInterval: 0 }), new FileStore({ dir, sweepInterval: 0 })];
    const ids = Array.from({ length: 6 }, (_, i) => `s${i}`);
    for (const id of ids) await app.set(id, { ...emptyRecord(1), user: 'ann', data: { id } }, 60);
    const current = new Map(ids.map((id) => [id, id]));
    let rotating = true;
    const rotations = (async () => {
      for (let round = 0; round < 8; round++) {
        for (const id of ids) {
          const next = `${id}-r${round}`;
          await app.rotate(current.get(id)!, next, { lastSeen: 2 + round }, 60);
          current.set(id, next);
        }
      }
      rotating = false;
    })();
    let listings = 0;
    while (rotating) {
      const listed = await admin.listByUser('ann');
      listings++;
      // Every listed entry is a record (never a mark), and no session shows twice.
      expect(listed.every((s) => typeof s.record.data.id === 'string')).toBe(true);
      const sessions = listed.map((s) => s.record.data.id as string);
      expect(new Set(sessions).size).toBe(sessions.length);
    }
    await rotations;
    expect(listings).toBeGreaterThan(0);
    expect((await admin.listByUser('ann')).map((s) => s.id).sort()).toEqual([...current.values()].sort());
  });
});

describe('FileStore listByUser under a busy lock', () => {
  it('lists without locks when a session lock stays busy past lockTimeout, instead of failing', async () => {
    const dir = await tempDir();
    const store = new FileStore({ dir, sweepInterval: 0, lockTimeout: 200, lockStale: 60_000 });
    await store.set('a', { ...emptyRecord(1), user: 'ann' }, 60);
    await store.set('b', { ...emptyRecord(1), user: 'ann' }, 60);
    const lock = join(dir, 'locks', `s-${sha256('b')}.lock`);
    await writeFile(lock, `${process.pid}\nelsewhere\nplanted\n0\n`); // a live holder on another host
    expect((await store.listByUser('ann')).map((s) => s.id)).toEqual(['a', 'b']);
    await unlink(lock);
    expect(await readdir(join(dir, 'locks'))).toEqual([]); // the lock of 'a' was released on the way
  });
});

describe('FileStore rotated marks on a full file system', () => {
  it('deletes the old file when the mark cannot be written: the rotation stands, only moved is lost', async (ctx) => {
    const mount = join(await tempDir(), 'tiny');
    await mkdir(mount);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,nr_inodes=400', 'tmpfs', mount], { stdio: 'ignore' });
    } catch {
      ctx.skip('cannot mount a small tmpfs here (needs root): full file system case not run');
    }
    try {
      const dir = join(mount, 'store');
      const store = new FileStore({ dir, sweepInterval: 0 });
      // A new id in the old one's shard: the rotation creates no folder.
      const shard = sha256('old').slice(0, 2);
      let newId = '';
      for (let i = 0; !newId; i++) if (sha256(`n${i}`).slice(0, 2) === shard) newId = `n${i}`;
      await store.set('old', { ...emptyRecord(1), data: { v: 1 } }, 60);
      expect(dirname(sessionPath(dir, newId))).toBe(dirname(sessionPath(dir, 'old')));
      // Use up every inode, then free three: the two lock files and the new session file fit, the mark's temporary does not.
      const fillers: string[] = [];
      for (;;) {
        const filler = join(mount, `f${fillers.length}`);
        try {
          await writeFile(filler, '');
        } catch (err) {
          expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
          break;
        }
        fillers.push(filler);
      }
      for (const filler of fillers.splice(-3)) await unlink(filler);

      const result = await store.rotate('old', newId, { put: { v: 2 }, lastSeen: 2 }, 60);
      expect(result).toMatchObject({ existed: true, written: true });
      expect((await store.get(newId))?.record.data).toEqual({ v: 2 });
      expect(await exists(sessionPath(dir, 'old'))).toBe(false); // deleted instead of marked
      expect(await store.update('old', late, 60)).toEqual({ existed: false, written: false, consumedTokens: [], consumedFlash: {} });
      expect((await listFiles(dir)).filter((f) => f.endsWith('.tmp') || f.startsWith('locks/'))).toEqual([]);
      // With room again, the next rotation marks as usual.
      for (const filler of fillers.splice(-10)) await unlink(filler);
      await store.rotate(newId, 'third', { lastSeen: 3 }, 60);
      expect(await store.update(newId, late, 60)).toMatchObject({ moved: true });
      expect(await readdir(join(dir, 'locks'))).toEqual([]);
    } finally {
      execFileSync('umount', [mount]);
    }
  });
});
