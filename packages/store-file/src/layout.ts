import { createHash } from 'node:crypto';
import { join } from 'node:path';

/** sha256 hex of a session or user id: ids never become paths, whatever they contain. */
export function hashId(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}

/**
 * Where everything lives under `dir`:
 * - `sessions/<h0h1>/<hash>.json`: one file per session, in 256 shards by the
 *   first two hex digits (no huge flat folder; a sweep run works shard by shard).
 * - `users/<hash>.json`: the user index, one file per user.
 * - `locks/s-<hash>.lock`, `locks/u-<hash>.lock`, `locks/sweep.lock`: lock files.
 * - `sweep.stamp`: its mtime is the end of the last sweep, shared by all processes.
 * Temporaries sit beside their target as `<target>.<pid>-<random>.tmp`.
 */
export class Layout {
  readonly sessions: string;
  readonly users: string;
  readonly locks: string;
  readonly stamp: string;

  constructor(readonly dir: string) {
    this.sessions = join(dir, 'sessions');
    this.users = join(dir, 'users');
    this.locks = join(dir, 'locks');
    this.stamp = join(dir, 'sweep.stamp');
  }

  shard(hash: string): string {
    return join(this.sessions, hash.slice(0, 2));
  }

  sessionFile(hash: string): string {
    return join(this.shard(hash), `${hash}.json`);
  }

  sessionLock(hash: string): string {
    return join(this.locks, `s-${hash}.lock`);
  }

  userFile(hash: string): string {
    return join(this.users, `${hash}.json`);
  }

  userLock(hash: string): string {
    return join(this.locks, `u-${hash}.lock`);
  }

  get sweepLock(): string {
    return join(this.locks, 'sweep.lock');
  }

  /** All 256 shard folder names, `00` to `ff`. */
  static shardNames(): string[] {
    return Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
  }
}
