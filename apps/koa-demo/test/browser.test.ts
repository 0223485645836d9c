import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserScenario, startDemo, storeDownScenario } from 'demo-kit/testing';

const appDir = fileURLToPath(new URL('..', import.meta.url));

browserScenario(
  { describe, it, expect, beforeAll, afterAll },
  {
    name: 'koa-demo',
    screenshotDir: fileURLToPath(new URL('../test-results/screenshots/koa-demo', import.meta.url)),
    start: () => startDemo({ name: 'koa-demo', cwd: appDir, command: process.execPath, args: ['src/server.js'] }),
  },
);

storeDownScenario(
  { describe, it, expect, beforeAll, afterAll },
  { name: 'koa-demo', start: () => startDemo({ name: 'koa-demo', cwd: appDir, command: process.execPath, args: ['src/server.js'] }) },
);
