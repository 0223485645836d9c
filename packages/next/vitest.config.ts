import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'next',
    include: ['test/**/*.test.ts'],
    exclude: ['test/fixture/**'],
    // Builds the fixture app (when stale) and runs `next start` once for all files.
    globalSetup: ['test/global-setup.ts'],
    // One server for all files: the scenario suite takes its store down and the
    // app tests count store records, so files must not overlap.
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
