import { fileURLToPath } from 'node:url';
import { createAdaptorServer } from '@hono/node-server';
import { exitWithError, serve, setupDemo } from 'demo-kit';
import { createApp } from './app.js';

const setup = await setupDemo({ appDir: fileURLToPath(new URL('..', import.meta.url)), defaultPort: 3004, cookieName: 'sess-hono' }).catch(exitWithError);
const { app } = createApp(setup);
serve({ setup, listen: (port, host) => /** @type {import('node:http').Server} */ (createAdaptorServer({ fetch: app.fetch }).listen(port, host)), label: 'Hono' });
