import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const appDir = fileURLToPath(new URL('..', import.meta.url));

/** Newest modification time under a path (files only), skipping node_modules. */
function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let max = 0;
  for (const entry of readdirSync(path)) if (entry !== 'node_modules' && entry !== '.next') max = Math.max(max, newest(join(path, entry)));
  return max;
}

/** Builds the demo with `next build` unless the build is newer than every source it depends on. */
export default function setup(): void {
  const buildId = join(appDir, '.next', 'BUILD_ID');
  const sources = [
    join(appDir, 'app'),
    join(appDir, 'lib'),
    join(appDir, 'next.config.mjs'),
    join(appDir, 'package.json'),
    realpathSync(join(appDir, 'node_modules', 'demo-kit')),
    join(realpathSync(join(appDir, 'node_modules', '@sess', 'next')), 'dist'),
    join(realpathSync(join(appDir, 'node_modules', '@sess', 'core')), 'dist'),
  ];
  if (existsSync(buildId) && statSync(buildId).mtimeMs > Math.max(...sources.map(newest))) return;
  const nextBin = createRequire(import.meta.url).resolve('next/dist/bin/next');
  const result = spawnSync(process.execPath, [nextBin, 'build'], { cwd: appDir, env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' }, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`next build failed:\n${result.stdout}\n${result.stderr}`);
}
