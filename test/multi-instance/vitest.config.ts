import { defineProject } from 'vitest/config';

// One fork, files one after another: four demo processes per store already
// fill the two cores, and the figures are only comparable without competition.
export default defineProject({
  test: {
    name: 'multi-instance',
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
  },
});
