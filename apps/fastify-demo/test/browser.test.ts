import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserScenario, startDemo, storeDownScenario } from 'demo-kit/testing';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const start = () => startDemo({ name: 'fastify-demo', cwd: appDir, command: process.execPath, args: ['src/server.js'] });

browserScenario(
  { describe, it, expect, beforeAll, afterAll },
  { name: 'fastify-demo', screenshotDir: fileURLToPath(new URL('../test-results/screenshots/fastify-demo', import.meta.url)), start },
);

storeDownScenario({ describe, it, expect, beforeAll, afterAll }, { name: 'fastify-demo', start });
