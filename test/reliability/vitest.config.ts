import { defineProject } from 'vitest/config';

// One file at a time: the load figures are only comparable when the suite does
// not compete with itself for the machine's two cores.
export default defineProject({
  test: {
    name: 'reliability',
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
