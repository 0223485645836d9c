/**
 * FileStore under faults: a writer process killed mid-write, orphaned
 * temporaries, and a folder that cannot be written.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StoreError } from '@sess/core';
import { FileStore } from '@sess/store-file';
import { afterAll, describe, expect, it } from 'vitest';
import { cookieOf, send, startServer } from './helpers/app.js';
import { Figures } from './helpers/figures.js';

const figures = new Figures('faults-file', 'Fault: FileStore writer killed, unwritable folder');
const here = dirname(fileURLToPath(import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const temps: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'sess-rel-fs-'));
  temps.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? (e as any).path, e.name));
}

describe('FileStore: a writer killed with SIGKILL mid-write', () => {
  it('leaves every session file readable, its locks breakable and its temporaries swept', async () => {
    const dir = tempDir();
    const SESSIONS = 20;
    const SIZE = 256 * 1024;
    const KILLS = 5;
    let killedWithTemps = 0;
    let tempsSeen = 0;
    let locksSeen = 0;
    for (let k = 0; k < KILLS; k++) {
      const child = spawn(process.execPath, [join(here, 'fixtures/file-writer.mjs'), dir, String(SESSIONS), String(SIZE)], { cwd: here, stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = once(child, 'exit');
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('writer not ready in 20 s')), 20_000);
        child.stdout!.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('ready')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once('exit', (code) => reject(new Error(`writer exited with ${code}`)));
      });
      await sleep(50 + Math.floor(Math.random() * 300));
      child.kill('SIGKILL');
      await exited;
      const files = walk(dir);
      const t = files.filter((f) => f.endsWith('.tmp')).length;
      tempsSeen += t;
      locksSeen += files.filter((f) => f.endsWith('.lock')).length;
      if (t > 0) killedWithTemps++;
    }

    // Every final session file is whole JSON: the rename is atomic.
    const sessionFiles = walk(join(dir, 'sessions')).filter((f) => f.endsWith('.json'));
    let unreadable = 0;
    for (const file of sessionFiles) {
      try {
        JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        unreadable++;
      }
    }
    const store = new FileStore({ dir, sweepInterval: 0, tempMaxAge: 0, lockTimeout: 3000 });
    let missing = 0;
    for (let i = 0; i < SESSIONS; i++) {
      const record = await store.get(`reliability-kill-${String(i).padStart(4, '0')}`);
      if ((record?.record.data.blob as string | undefined)?.length !== SIZE) missing++;
    }
    // Locks left by the dead writer do not block this process (its pid is gone).
    const started = performance.now();
    const now = Date.now();
    await Promise.all(
      Array.from({ length: SESSIONS }, (_, i) =>
        store.update!(`reliability-kill-${String(i).padStart(4, '0')}`, { ifExists: true, put: { after: true }, lastSeen: now }, 3600),
      ),
    );
    const relockMs = Math.round(performance.now() - started);
    await store.prune();
    const tempsAfterSweep = walk(dir).filter((f) => f.endsWith('.tmp')).length;
    await store.close?.();

    figures.record('writer killed mid-write', {
      kills: KILLS,
      sessions: SESSIONS,
      recordBytes: SIZE,
      killsThatLeftTemporaries: killedWithTemps,
      temporariesFoundAfterKills: tempsSeen, // cumulative over the kills, before any sweep
      locksFoundAfterKills: locksSeen,
      sessionFiles: sessionFiles.length,
      unreadableFiles: unreadable,
      sessionsMissingOrPartial: missing,
      writeAfterKillMs: relockMs,
      temporariesAfterSweep: tempsAfterSweep,
    });
    expect(sessionFiles.length).toBe(SESSIONS);
    expect(unreadable).toBe(0);
    expect(missing).toBe(0);
    expect(tempsSeen).toBeGreaterThan(0); // the kills really did land mid-write
    expect(relockMs).toBeLessThan(3000);
    expect(tempsAfterSweep).toBe(0);
  });
});

describe('FileStore: a folder that cannot be written', () => {
  it('a dir under a regular file gives StoreError from the store and 503 through HTTP, and the process lives on', async () => {
    const base = tempDir();
    writeFileSync(join(base, 'not-a-folder'), 'x');
    const store = new FileStore({ dir: join(base, 'not-a-folder', 'sessions'), sweepInterval: 0 });
    const error = await store.set('some-id', { data: {}, flash: {}, tokens: [], createdAt: Date.now(), lastSeen: Date.now() }, 60).catch((e) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error.message).toMatch(/^\[sess\]/);
    const server = await startServer(store);
    try {
      const r = await send(server.baseUrl, '/put?key=a&value=1');
      expect(r.status).toBe(503);
      expect(server.unexpected).toEqual([]);
      figures.record('dir under a regular file', { storeError: error.code, httpStatus: r.status, message: error.message.slice(0, 120) });
    } finally {
      await server.close();
    }
  });

  it('a session file that cannot be replaced (a folder took its name) gives 503, not a crash and not a silent new session', async () => {
    const dir = tempDir();
    const store = new FileStore({ dir, sweepInterval: 0, lockTimeout: 1000 });
    const server = await startServer(store);
    try {
      const first = await send(server.baseUrl, '/put?key=a&value=1');
      const cookie = cookieOf(first.setCookie)!;
      const file = walk(join(dir, 'sessions')).find((f) => f.endsWith('.json'))!;
      unlinkSync(file);
      mkdirSync(file); // rename(temp, file) now fails with EISDIR
      const r = await send(server.baseUrl, '/put?key=b&value=2', { cookie });
      expect([200, 503]).toContain(r.status); // a directory reads as "no session"; the write must then fail loudly
      const write = await store.set('x', { data: {}, flash: {}, tokens: [], createdAt: Date.now(), lastSeen: Date.now() }, 60);
      expect(write).toBeUndefined();
      const stuck = await send(server.baseUrl, '/put?key=b&value=2', { cookie });
      figures.record('session file replaced by a folder', { firstStatus: r.status, secondStatus: stuck.status, unexpected: server.unexpected.length });
      expect(stuck.status).not.toBe(500);
      expect(server.unexpected).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
