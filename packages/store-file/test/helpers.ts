import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WORKER = fileURLToPath(new URL('./fixtures/worker.mjs', import.meta.url));

export const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** Where FileStore keeps the session `id` under `dir`. */
export const sessionPath = (dir: string, id: string) => {
  const h = sha256(id);
  return join(dir, 'sessions', h.slice(0, 2), `${h}.json`);
};

const made: string[] = [];

/** A fresh folder under the OS temp dir, removed by `removeTempDirs`. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sess-file-'));
  made.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** Every file below `dir`, as paths relative to it. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? (e as any).path, e.name).slice(dir.length + 1));
}

export function startWorker(args: string[]) {
  const child = fork(WORKER, args, { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const message = (want: string) =>
    new Promise<void>((resolve, reject) => {
      const onMessage = (m: unknown) => {
        if (m === want) {
          child.off('message', onMessage);
          resolve();
        }
      };
      child.on('message', onMessage);
      void exited.then(({ code, signal }) => reject(new Error(`worker exited (${code ?? signal}) before "${want}"`)));
    });
  /** The first message that is an object (a worker's report). */
  const report = <T = Record<string, unknown>>() =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (m: unknown) => {
        if (m !== null && typeof m === 'object') {
          child.off('message', onMessage);
          resolve(m as T);
        }
      };
      child.on('message', onMessage);
      void exited.then(({ code, signal }) => reject(new Error(`worker exited (${code ?? signal}) before its report`)));
    });
  return { child, exited, message, report };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
