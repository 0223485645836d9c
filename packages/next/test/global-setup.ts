import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the running fixture app. */
    nextUrl: string;
    /** File that collects the fixture server's stdout and stderr. */
    nextLog: string;
    /** Version of the `next` that built and serves the fixture (e.g. "15.5.4"), for suite names. */
    nextVersion: string;
  }
}

export interface FixtureOptions {
  /** The Next app's folder; `next` is resolved from there, so it is the Next version under test. */
  fixture: string;
  /** Extra arguments of `next build` (e.g. `--webpack`). */
  buildArgs?: string[];
  /** Name in the log file's name, to keep two projects' servers apart. */
  label: string;
}

const packageRoot = fileURLToPath(new URL('../', import.meta.url));
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1' };

/** Newest modification time under `dir`, skipping build output. */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === '.next' || entry.name === 'node_modules' || entry.name === 'next-env.d.ts') continue;
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilUp(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`next start exited with code ${child.exitCode}`);
    try {
      const response = await fetch(new URL('/api/store', url));
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('next start did not answer within 30 s');
}

/**
 * A vitest globalSetup that builds a fixture app with `next build` (when older
 * than its sources, @sess/next's and @sess/core's dist or its `next`) and serves
 * it with `next start` for all test files; provides `nextUrl`, `nextLog`, `nextVersion`.
 */
export function nextFixtureSetup({ fixture, buildArgs = [], label }: FixtureOptions) {
  // `next` as the fixture resolves it: test/next16's fixture gets Next 16 even though this file sits beside Next 15.
  const requireFromFixture = createRequire(join(fixture, 'noop.js'));
  const nextPackage = requireFromFixture.resolve('next/package.json');
  const nextBin = join(dirname(nextPackage), 'dist/bin/next');
  const nextVersion = (JSON.parse(readFileSync(nextPackage, 'utf8')) as { version: string }).version;

  function buildIfStale(): void {
    const buildId = join(fixture, '.next', 'BUILD_ID');
    // The build's arguments, so that switching bundler (--webpack) rebuilds.
    const argsFile = join(fixture, '.next', 'sess-build-args.json');
    const args = JSON.stringify(buildArgs);
    const inputs = Math.max(
      newest(fixture),
      newest(join(packageRoot, 'dist')),
      newest(join(packageRoot, 'node_modules/@sess/core/dist')),
      statSync(nextPackage).mtimeMs,
    );
    const sameArgs = existsSync(argsFile) ? readFileSync(argsFile, 'utf8') === args : buildArgs.length === 0;
    if (existsSync(buildId) && statSync(buildId).mtimeMs > inputs && sameArgs) return;
    const result = spawnSync(process.execPath, [nextBin, 'build', ...buildArgs], { cwd: fixture, env, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`next build of ${basename(dirname(fixture))}/fixture (next ${nextVersion}) failed:\n${result.stdout}\n${result.stderr}`);
    writeFileSync(argsFile, args);
  }

  return async function setup(project: TestProject) {
    buildIfStale();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const log = join(tmpdir(), `sess-${label}-fixture-${process.pid}.log`);
    const out = createWriteStream(log);
    const child = spawn(process.execPath, [nextBin, 'start', '-p', String(port), '-H', '127.0.0.1'], { cwd: fixture, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    await waitUntilUp(url, child);
    project.provide('nextUrl', url);
    project.provide('nextLog', log);
    project.provide('nextVersion', nextVersion);
    return async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    };
  };
}

export default nextFixtureSetup({ fixture: fileURLToPath(new URL('./fixture/', import.meta.url)), label: 'next' });
