import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emptyRecord, SessionManager } from '@sess/core';
import { testSecret, TestClient } from '@sess/core/testing';
import { FileStore } from '@sess/store-file';
import { removeTempDirs, sha256, tempDir } from './helpers.js';

afterAll(removeTempDirs);

const indexOf = async (dir: string, user: string) => {
  try {
    return JSON.parse(await readFile(join(dir, 'users', `${sha256(user)}.json`), 'utf8'));
  } catch {
    return undefined;
  }
};

describe('FileStore user index', () => {
  it('moves a session between user index files when its user changes, by set and by update', async () => {
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0 });
    await store.set('s1', { ...emptyRecord(1), user: 'ann' }, 60);
    await store.set('s2', { ...emptyRecord(1), user: 'ann' }, 60);
    expect(await indexOf(store.dir, 'ann')).toEqual({ v: 1, user: 'ann', ids: ['s1', 's2'] });
    await store.set('s1', { ...emptyRecord(1), user: 'bob' }, 60);
    expect((await indexOf(store.dir, 'ann')).ids).toEqual(['s2']);
    expect((await indexOf(store.dir, 'bob')).ids).toEqual(['s1']);
    await store.update('s2', { ifExists: true, user: null, lastSeen: 2 }, 60);
    expect(await indexOf(store.dir, 'ann')).toBeUndefined(); // an empty index file is removed
    expect((await store.listByUser('bob')).map((s) => s.id)).toEqual(['s1']);
  });

  it('ignores stale index entries, never deletes a session of another user, and prune() drops them', async () => {
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0 });
    await store.set('mine', { ...emptyRecord(1), user: 'ann' }, 60);
    await store.set('theirs', { ...emptyRecord(1), user: 'bob' }, 60);
    // As a crash between index and session write would leave it:
    await mkdir(join(store.dir, 'users'), { recursive: true });
    await writeFile(join(store.dir, 'users', `${sha256('ann')}.json`), JSON.stringify({ v: 1, user: 'ann', ids: ['mine', 'theirs', 'gone'] }));
    expect((await store.listByUser('ann')).map((s) => s.id)).toEqual(['mine']);
    expect(await store.prune()).toBe(0);
    expect((await indexOf(store.dir, 'ann')).ids).toEqual(['mine']);
    await writeFile(join(store.dir, 'users', `${sha256('ann')}.json`), JSON.stringify({ v: 1, user: 'ann', ids: ['mine', 'theirs'] }));
    expect(await store.destroyByUser('ann')).toBe(1);
    expect(await store.get('theirs')).toBeDefined();
    expect(await store.get('mine')).toBeUndefined();
  });

  it("backs SessionManager's listSessions and destroySessions across store instances", async () => {
    const dir = await tempDir();
    const manager = new SessionManager({ secret: testSecret(), store: new FileStore({ dir, sweepInterval: 0 }) });
    // A second app process with its own store on the same folder.
    const other = new SessionManager({ secret: testSecret(), store: new FileStore({ dir, sweepInterval: 0 }) });
    const [phone, laptop] = [new TestClient(manager), new TestClient(manager)];
    await phone.request((s) => s.setUser('ann', { device: 'phone' }));
    const { session: current } = await laptop.request((s) => s.setUser('ann', { device: 'laptop' }));
    const listed = await other.listSessions('ann');
    expect(listed.map((s) => s.details.device).sort()).toEqual(['laptop', 'phone']);
    expect(await other.destroySessions('ann', { except: current.id })).toBe(1);
    expect((await manager.listSessions('ann', { current })).map((s) => [s.details.device, s.current])).toEqual([['laptop', true]]);
    expect((await phone.request((s) => s.isNew)).result).toBe(true); // signed out
  });

  it('keeps user ids of 512 characters (the longest setUser accepts), whatever they contain', async () => {
    const store = new FileStore({ dir: await tempDir(), sweepInterval: 0 });
    const users = ['../'.repeat(170) + 'et', 'ü🎉'.repeat(170) + 'ab', 'x'.repeat(511) + '/', ' .json'.repeat(85) + 'zz'];
    for (const [i, user] of users.entries()) {
      expect(user.length).toBe(512);
      await store.set(`s${i}`, emptyRecord(1), 60);
      await store.update(`s${i}`, { ifExists: true, user, lastSeen: 2 }, 60);
      expect(await indexOf(store.dir, user)).toEqual({ v: 1, user, ids: [`s${i}`] });
      await store.rotate(`s${i}`, `t${i}`, { lastSeen: 3 }, 60);
      expect((await store.listByUser(user)).map((s) => [s.id, s.record.user])).toEqual([[`t${i}`, user]]);
    }
    expect(await store.destroyByUser(users[0]!)).toBe(1);
    expect(await store.listByUser(users[0]!)).toEqual([]);
    expect((await store.listByUser(users[1]!)).map((s) => s.id)).toEqual(['t1']);
    // Through SessionManager: setUser takes it, and it lists and signs out by it.
    const manager = new SessionManager({ secret: testSecret(), store });
    const long = `${'m'.repeat(500)}${'é'.repeat(12)}`;
    await new TestClient(manager).request((s) => s.setUser(long, { device: 'phone' }));
    expect((await manager.listSessions(long)).map((s) => s.details.device)).toEqual(['phone']);
    expect(await manager.destroySessions(long)).toBe(1);
  });
});
