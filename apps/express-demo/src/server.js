import { fileURLToPath } from 'node:url';
import { exitWithError, serve, setupDemo } from 'demo-kit';
import { createApp } from './app.js';

const setup = await setupDemo({ appDir: fileURLToPath(new URL('..', import.meta.url)), defaultPort: 3000, cookieName: 'sess-express' }).catch(exitWithError);
const { app } = createApp(setup);
serve({ setup, listen: (port, host) => app.listen(port, host), label: 'Express' });
