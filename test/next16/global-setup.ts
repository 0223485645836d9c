import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { nextFixtureSetup } from '../../packages/next/test/global-setup.ts';

/** packages/next's fixture (Next 15), whose files this one shares. */
export const SHARED = fileURLToPath(new URL('../../packages/next/test/fixture/', import.meta.url));
/** This fixture's own files: proxy.ts (what middleware.ts became), its pages, next.config.mjs, tsconfig.json. */
export const OWN = fileURLToPath(new URL('./fixture-own/', import.meta.url));
/** The fixture Next 16 builds: assembled here (git-ignored), so `next` resolves from this folder. */
export const FIXTURE = fileURLToPath(new URL('./fixture/', import.meta.url));
/** Files of the shared fixture this one replaces or leaves out (Next 16 runs proxy.ts, not middleware.ts). */
export const REPLACED = new Set(['middleware.ts', 'next.config.mjs', 'next-env.d.ts', 'tsconfig.json']);

/** The files under `dir`, relative to `root`, without build output. */
export function filesOf(dir: string, root = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === '.next' || entry.name === 'node_modules') return [];
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesOf(path, root) : [relative(root, path)];
  });
}

/**
 * Writes fixture/ from the shared fixture and fixture-own/: a file is copied only
 * when its content differs, with its source's modification time, so the build in
 * fixture/.next is redone only when a source changed; files no source has any more
 * are removed.
 */
function assemble(): void {
  const wanted = new Map<string, string>();
  for (const file of filesOf(SHARED)) if (!REPLACED.has(file)) wanted.set(file, join(SHARED, file));
  for (const file of filesOf(OWN)) wanted.set(file, join(OWN, file));
  for (const [file, source] of wanted) {
    const target = join(FIXTURE, file);
    if (existsSync(target) && readFileSync(target).equals(readFileSync(source))) continue;
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(source, target);
    const { atime, mtime } = statSync(source);
    utimesSync(target, atime, mtime);
  }
  for (const file of filesOf(FIXTURE)) if (!wanted.has(file)) rmSync(join(FIXTURE, file));
}

// packages/next's setup, pointed at the assembled fixture: `next` resolves from
// here, so the fixture is built and served by Next 16. `next build` uses
// Turbopack, Next 16's default; SESS_NEXT16_WEBPACK=1 builds with --webpack instead.
const setup = nextFixtureSetup({
  fixture: FIXTURE,
  buildArgs: process.env.SESS_NEXT16_WEBPACK === '1' ? ['--webpack'] : [],
  label: 'next16',
});

export default async function assembleAndSetup(project: TestProject) {
  mkdirSync(FIXTURE, { recursive: true });
  assemble();
  return setup(project);
}
