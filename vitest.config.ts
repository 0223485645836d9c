import { defineConfig } from 'vitest/config';

// One `vitest run` at the root runs every package's tests; each folder with a
// vitest.config.ts is its own project (timeouts, pools and setup of its own).
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'apps/*/vitest.config.ts', 'test/*/vitest.config.ts'],
    reporters: ['default', ['json', { outputFile: '.ci/results.json' }]],
  },
});
