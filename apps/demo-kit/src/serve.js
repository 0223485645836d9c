import { DemoSetupError, exitWithError } from './errors.js';

/**
 * Starts a demo's HTTP server on the configured host and port, prints its URL,
 * turns a taken port into one clear line, and closes the store on Ctrl-C.
 *
 * @param {object} options
 * @param {Awaited<ReturnType<typeof import('./config.js').setupDemo>>} options.setup
 * @param {(port: number, host: string) => import('node:http').Server} options.listen  `(port, host) => app.listen(port, host)`
 * @param {string} options.label  shown in the start line, e.g. "Express"
 * @returns {import('node:http').Server}
 */
export function serve({ setup, listen, label }) {
  const server = listen(setup.port, setup.host);
  server.once('listening', () => {
    const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
    console.log(`sess ${label} demo on http://${setup.host}:${port} (store: ${setup.store.name})`);
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
  return server;
}
