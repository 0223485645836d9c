import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';

/** The suffix every temporary file carries, so a sweep can find orphans. */
export const TEMP_SUFFIX = '.tmp';

export interface AtomicWriteOptions {
  /** Permission bits of the new file. */
  mode: number;
  /** Flush the data to disk before the rename (survives power loss, costs a disk flush). */
  fsync: boolean;
}

/**
 * Writes `data` to `path` so that a reader sees either the old file or the whole
 * new one, never a partial file. Why: `rename` within one directory replaces the
 * name atomically (POSIX), so the data goes to a temporary name unique to this
 * write first (pid + random: overlapping writes never share one), then takes the
 * final name in one step. A writer killed in between leaves only a `.tmp` orphan,
 * which the sweep removes.
 */
export async function writeAtomic(path: string, data: string, options: AtomicWriteOptions): Promise<void> {
  const temp = `${path}.${process.pid}-${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`;
  const handle = await open(temp, 'wx', options.mode);
  try {
    try {
      await handle.writeFile(data, 'utf8');
      if (options.fsync) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

/**
 * Reads a whole file written by `writeAtomic` as UTF-8: open, read, close (three
 * file system calls; `readFile` adds an fstat). A file written by `writeAtomic`
 * never changes after its rename, so a read that returns less than it asked for
 * has reached the end.
 */
export async function readWhole(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    let buffer = Buffer.allocUnsafe(16 * 1024);
    let filled = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, null);
      filled += bytesRead;
      if (filled < buffer.length) return buffer.toString('utf8', 0, filled);
      const bigger = Buffer.allocUnsafe(buffer.length * 2);
      buffer.copy(bigger);
      buffer = bigger;
    }
  } finally {
    await handle.close();
  }
}
