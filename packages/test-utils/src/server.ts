import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A server listening on a free loopback port, and how to stop it. */
export interface LoopbackServer {
  server: Server;
  baseUrl: string;
  /** Closes the server, dropping kept-alive connections so it ends at once. */
  close(): Promise<void>;
}

/**
 * Starts an Express or Koa app (anything whose `listen(port, host, callback)`
 * returns a `node:http` Server) on 127.0.0.1 with a port the system picks.
 *
 * @example const { baseUrl, close } = await listenOnLoopback(app);
 */
export async function listenOnLoopback(app: { listen(port: number, host: string, callback: () => void): Server }): Promise<LoopbackServer> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    baseUrl: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
