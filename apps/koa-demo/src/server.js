import { fileURLToPath } from 'node:url';
import { DemoSetupError, exitWithError, setupDemo } from 'demo-kit';
import { createApp } from './app.js';

const setup = await setupDemo({ appDir: fileURLToPath(new URL('..', import.meta.url)), defaultPort: 3001, cookieName: 'sess-koa' }).catch(exitWithError);
const { app } = createApp(setup);

const server = app.listen(setup.port, setup.host);
server.once('listening', () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  console.log(`sess Koa demo on http://${setup.host}:${port} (store: ${setup.store.name})`);
});
server.once('error', (/** @type {NodeJS.ErrnoException} */ err) => {
  void setup.store.close();
  if (err.code === 'EADDRINUSE') exitWithError(new DemoSetupError(`Port ${setup.port} is in use: stop what runs there or start with PORT=<another port>.`));
  exitWithError(err);
});

let stopping = false;
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    server.close();
    server.closeAllConnections();
    // The store's close() also closes the connection the demo opened for it.
    setup.store.close().finally(() => process.exit(0));
  });
}
