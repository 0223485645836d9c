import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserScenario, startDemo } from 'demo-kit/testing';

const appDir = fileURLToPath(new URL('..', import.meta.url));

browserScenario(
  { describe, it, expect, beforeAll, afterAll },
  {
    name: 'next-demo',
    screenshotDir: fileURLToPath(new URL('../test-results/screenshots/next-demo', import.meta.url)),
    start: () => startDemo({ name: 'next-demo', cwd: appDir, command: process.execPath, args: ['scripts/start.mjs'] }),
  },
);
