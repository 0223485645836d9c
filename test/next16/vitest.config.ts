import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'next16',
    include: ['*.test.ts'],
    exclude: ['fixture/**', 'node_modules/**'],
    // Builds fixture/ with Next 16 (when stale) and runs `next start` once for all files.
    globalSetup: ['./global-setup.ts'],
    // One server for all files: the scenario suite takes its store down and the
    // app tests count store records, so files must not overlap.
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    testTimeout: 30_000,
    // The globalSetup's `next build` is not bound by hookTimeout; this is for the suites' own hooks.
    hookTimeout: 60_000,
  },
});
