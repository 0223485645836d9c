import { randomBytes } from 'node:crypto';
import { type FileHandle, link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { debuglog } from 'node:util';
import { StoreError } from '@sess/core';

const debug = debuglog('sess:store-file');
const HOST = hostname();

export interface LockOptions {
  /** Milliseconds to keep trying before giving up with a `StoreError` (0: one try). */
  timeout: number;
  /** Milliseconds after which a lock file is considered abandoned and broken. */
  stale: number;
  /** Permission bits of the lock file. */
  mode: number;
}

/** Releases a held lock. */
export type Release = () => Promise<void>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** False only when the pid surely does not run (EPERM: it runs as another user). */
function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCode(err) === 'EPERM';
  }
}

/**
 * Takes the lock file at `path`, created with O_EXCL (`'wx'`): of all processes
 * that try, exactly one creates it, on any local file system. The file holds the
 * owner's pid, host and a random token. Contended tries back off with jitter
 * (2 ms doubling to 50 ms, randomised so waiters do not retry in lockstep) until
 * `timeout`, then fail with a `StoreError` (code `E_STORE_TIMEOUT`).
 */
export async function acquireLock(path: string, options: LockOptions): Promise<Release> {
  const token = `${process.pid}\n${HOST}\n${randomBytes(8).toString('hex')}\n${Date.now()}\n`;
  const deadline = Date.now() + options.timeout;
  let delay = 2;
  for (;;) {
    let handle;
    try {
      handle = await open(path, 'wx', options.mode);
    } catch (err) {
      if (errorCode(err) !== 'EEXIST') throw err;
    }
    if (handle) {
      try {
        await handle.writeFile(token, 'utf8');
      } catch (err) {
        await handle.close().catch(() => undefined);
        await unlink(path).catch(() => undefined);
        throw err;
      }
      if (KEEP_OPEN) return () => releaseHeld(path, handle, token);
      await handle.close();
      return () => releaseLock(path, token);
    }
    const again = await breakIfStale(path, options.stale);
    if (Date.now() >= deadline) {
      throw new StoreError(
        `[sess] FileStore waited ${options.timeout} ms for the lock "${path}" held by another process or request. ` +
          'If no process is using it, delete the file; if writes are just slow, raise the lockTimeout option.',
        { code: 'E_STORE_TIMEOUT' },
      );
    }
    if (again) continue; // broken or released: try again at once
    await sleep(delay / 2 + Math.random() * delay);
    delay = Math.min(delay * 2, 50);
  }
}

/**
 * Whether a lock's file stays open while it is held, so the release can tell by
 * inode that the file at the path is still ours (an inode cannot be reused while
 * a descriptor holds it) instead of reading the token back: two file system
 * calls instead of five. Not on Windows, where an open file resists being
 * renamed aside by a breaker.
 */
const KEEP_OPEN = process.platform !== 'win32';

/**
 * Removes the lock only while the file at `path` is still the one this holder
 * created (a breaker may have moved it aside as stale, and another holder may
 * have created a new one since), then closes it.
 */
async function releaseHeld(path: string, handle: FileHandle, token: string): Promise<void> {
  try {
    const [mine, now] = await Promise.all([handle.stat(), stat(path).catch((err: unknown) => (errorCode(err) === 'ENOENT' ? undefined : Promise.reject(err)))]);
    if (mine.ino === 0) return await releaseLock(path, token); // a file system without inode numbers: compare the token
    if (now === undefined || now.ino !== mine.ino || now.dev !== mine.dev) return;
    await unlink(path).catch((err: unknown) => {
      if (errorCode(err) !== 'ENOENT') throw err;
    });
  } finally {
    await handle.close();
  }
}

/** Removes the lock only while it is still ours (it may have been broken as stale meanwhile). */
async function releaseLock(path: string, token: string): Promise<void> {
  try {
    if ((await readFile(path, 'utf8')) === token) await unlink(path);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
}

/** How long a breaker may hold the guard before others clear it (it died mid-break). */
const GUARD_STALE = 2000;

/** How long a lock file may stay empty before it counts as abandoned. */
const EMPTY_STALE = 2000;

/** What a lock file says about its holder: gone, or its identity and whether it is abandoned. */
async function inspect(path: string, staleMs: number): Promise<{ ino: number; dev: number; stale: boolean; why: string } | undefined> {
  let info;
  let content;
  try {
    info = await stat(path);
    content = await readFile(path, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  const [pid, host] = content.split('\n');
  const dead = host === HOST && pid !== undefined && pid !== '' && !isAlive(Number(pid));
  // An empty file is a holder between open and write, which takes microseconds;
  // one that stays empty for EMPTY_STALE ms was killed in between (SIGKILL), and
  // waiting the full staleMs for it would outlast every waiter's lockTimeout.
  const limit = content === '' ? Math.min(staleMs, EMPTY_STALE) : staleMs;
  const old = Date.now() - info.mtimeMs > limit;
  return { ino: info.ino, dev: info.dev, stale: dead || old, why: dead ? `pid ${pid} is gone` : `older than ${staleMs} ms` };
}

/**
 * Breaks the lock at `path` when its holder is gone: older than `staleMs`, or
 * owned by a pid of this host that no longer runs (a process killed with SIGKILL
 * never releases its lock). Returns true when the caller should try to take the
 * lock again at once (broken, or already gone).
 *
 * Why a guard: two waiters may judge the same lock stale; if both removed it, the
 * slower one would remove the lock the faster one had just taken, and two holders
 * would run at once. So breakers first take `<lock>.break` (O_EXCL, one at a time),
 * then look again: the lock they remove is one they saw stale under the guard.
 * Removal is a rename to a unique name checked by inode, so even a holder that
 * wakes up late and re-takes the name is never the one deleted.
 */
export async function breakIfStale(path: string, staleMs: number): Promise<boolean> {
  const seen = await inspect(path, staleMs);
  if (!seen) return true;
  if (!seen.stale) return false;
  const guard = `${path}.break`;
  try {
    const handle = await open(guard, 'wx', 0o600);
    await handle.writeFile(`${process.pid}\n${HOST}\n`, 'utf8').finally(() => handle.close());
  } catch (err) {
    if (errorCode(err) !== 'EEXIST') throw err;
    // Another breaker is at work; clear its guard only if it died or got stuck.
    const other = await inspect(guard, GUARD_STALE);
    if (other?.stale) await unlink(guard).catch(() => undefined);
    return false;
  }
  try {
    const now = await inspect(path, staleMs);
    if (!now) return true;
    if (!now.stale) return false;
    const aside = `${path}.${randomBytes(6).toString('hex')}.broken`;
    try {
      await rename(path, aside);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return true;
      throw err;
    }
    try {
      const moved = await stat(aside);
      if (moved.ino !== now.ino || moved.dev !== now.dev) {
        await link(aside, path).catch(() => undefined); // not ours to break: put it back
        return false;
      }
      debug('broke lock %s: %s', path, now.why);
      return true;
    } finally {
      await unlink(aside).catch(() => undefined);
    }
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}
