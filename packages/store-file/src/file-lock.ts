import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
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
      await handle.close();
      return () => releaseLock(path, token);
    }
    if (await breakIfStale(path, options.stale)) continue;
    if (Date.now() >= deadline) {
      throw new StoreError(
        `[sess] FileStore waited ${options.timeout} ms for the lock "${path}" held by another process or request. ` +
          'If no process is using it, delete the file; if writes are just slow, raise the lockTimeout option.',
        { code: 'E_STORE_TIMEOUT' },
      );
    }
    await sleep(delay / 2 + Math.random() * delay);
    delay = Math.min(delay * 2, 50);
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

/**
 * Breaks the lock at `path` when its holder is gone: older than `staleMs`, or
 * owned by a pid of this host that no longer runs (a process killed with SIGKILL
 * never releases its lock). Returns true when the caller should try again at once
 * (broken, or already gone).
 *
 * Why rename first: two waiters may judge the same lock stale; unlinking directly
 * would let the slower one delete the lock the faster one just took. Renaming to a
 * unique name moves exactly one file; if that file is not the one judged stale (a
 * new holder took the name in between), it is linked back (link fails rather than
 * replace, so a third holder is never overwritten).
 */
export async function breakIfStale(path: string, staleMs: number): Promise<boolean> {
  let info;
  let content;
  try {
    info = await stat(path);
    content = await readFile(path, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return true;
    throw err;
  }
  const [pid, host] = content.split('\n');
  const old = Date.now() - info.mtimeMs > staleMs;
  const dead = host === HOST && pid !== undefined && pid !== '' && !isAlive(Number(pid));
  if (!old && !dead) return false;
  const aside = `${path}.${randomBytes(6).toString('hex')}.broken`;
  try {
    await rename(path, aside);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return true;
    throw err;
  }
  try {
    const moved = await stat(aside);
    if (moved.ino !== info.ino || moved.dev !== info.dev) {
      await link(aside, path).catch(() => undefined);
      return false;
    }
    debug('broke %s lock %s (pid %s on %s)', dead ? 'dead' : 'stale', path, pid, host);
    return true;
  } finally {
    await unlink(aside).catch(() => undefined);
  }
}
