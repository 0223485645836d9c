import { defineProject } from 'vitest/config';

// One fork runs the files one after another: the load figures are only
// comparable when the suite does not compete with itself for the cores.
// (fileParallelism is a root-only option; singleFork is the project-level way.)
export default defineProject({
  test: {
    name: 'reliability',
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
  },
});
