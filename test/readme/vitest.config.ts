import { defineProject } from 'vitest/config';

// One test per README code block; each is its own TypeScript program (a
// snippet's `declare module '@sess/core'` must not leak into the others).
export default defineProject({
  test: {
    name: 'readme',
    include: ['*.test.ts'],
    exclude: ['node_modules/**', '.snippets/**'],
    testTimeout: 60_000,
  },
});
