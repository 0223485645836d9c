import { fileURLToPath } from 'node:url';
import { exitWithError, serve, setupDemo } from 'demo-kit';
import { createApp } from './app.js';

const setup = await setupDemo({ appDir: fileURLToPath(new URL('..', import.meta.url)), defaultPort: 3003, cookieName: 'sess-fastify' }).catch(exitWithError);
const { app } = await createApp(setup).catch(exitWithError);
// createApp() awaited app.ready(): Fastify's Node server can listen as any other (demo-kit prints the URL).
serve({ setup, listen: (port, host) => app.server.listen(port, host), label: 'Fastify' });
