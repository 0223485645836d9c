import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'reliability', include: ['**/*.test.ts'], exclude: ['node_modules/**'], testTimeout: 120_000, hookTimeout: 120_000 },
});
