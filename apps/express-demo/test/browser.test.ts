import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserScenario, startDemo, storeDownScenario } from 'demo-kit/testing';

const appDir = fileURLToPath(new URL('..', import.meta.url));

browserScenario(
  { describe, it, expect, beforeAll, afterAll },
  {
    name: 'express-demo',
    screenshotDir: fileURLToPath(new URL('../test-results/screenshots/express-demo', import.meta.url)),
    start: () => startDemo({ name: 'express-demo', cwd: appDir, command: process.execPath, args: ['src/server.js'] }),
  },
);

storeDownScenario(
  { describe, it, expect, beforeAll, afterAll },
  { name: 'express-demo', start: () => startDemo({ name: 'express-demo', cwd: appDir, command: process.execPath, args: ['src/server.js'] }) },
);
