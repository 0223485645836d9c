// `build` of @sess/bench: `next build` of the small Next app in src/next-app,
// skipped when its build is newer than its sources (or BENCH_SKIP_NEXT=1).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'next-app');
if (process.env.BENCH_SKIP_NEXT === '1') process.exit(0);

const newest = (p) => {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(p).filter((n) => n !== '.next' && n !== 'node_modules').map((n) => newest(path.join(p, n))));
};
const buildId = path.join(dir, '.next', 'BUILD_ID');
const deps = ['core', 'next'].map((p) => path.join(dir, '..', '..', '..', 'packages', p, 'dist')).filter(existsSync);
if (existsSync(buildId) && statSync(buildId).mtimeMs > Math.max(newest(dir), ...deps.map(newest))) {
  console.log('[bench] Next app is up to date');
  process.exit(0);
}
const nextBin = createRequire(import.meta.url).resolve('next/dist/bin/next');
const r = spawnSync(process.execPath, [nextBin, 'build', dir], { stdio: 'inherit', env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' } });
process.exit(r.status ?? 1);
