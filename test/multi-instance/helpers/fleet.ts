/**
 * A fleet: N processes of the Express demo, started as a person starts it
 * (`node src/server.js` with PORT, SESS_STORE, REDIS_URL / DATABASE_URL,
 * SESSION_SECRET and its own data dir), all with the same secret and the same
 * backend, and a round-robin reverse proxy (node:http, in the test process) in
 * front, as a load balancer would be.
 */
import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
// Why demo-kit's starter: it is how the demo's own tests start it (free port,
// fresh data dir, waits for the URL line, kills the process group on stop).
import { startDemo } from 'demo-kit/testing';

const EXPRESS_DEMO = fileURLToPath(new URL('../../../apps/express-demo', import.meta.url));

export interface Instance {
  url: string;
  output: () => string;
  stop: () => Promise<void>;
}

export interface Fleet {
  /** The proxy: requests go to the instances in turn. */
  url: string;
  instances: Instance[];
  /** Requests the proxy sent to each instance. */
  served: number[];
  /** Proxy-level failures (an instance refused or dropped a connection). */
  proxyErrors: string[];
  stop(): Promise<void>;
}

export async function startFleet(options: { count?: number; env: Record<string, string> }): Promise<Fleet> {
  const count = options.count ?? 4;
  // One secret for all: any instance must verify the cookie another one signed.
  const secret = randomBytes(32).toString('base64url');
  const instances: Instance[] = [];
  let proxy: Server | undefined;
  // Free sockets are dropped after 4 s idle, before the demos' 5 s keep-alive timeout closes
  // them: reusing a socket the server is closing is a reset (a 502 here) that says nothing
  // about sessions. Seen once in a CI run on a loaded machine, between two test phases.
  const agent = new Agent({ keepAlive: true, maxSockets: 64, timeout: 4000 });
  const stop = async () => {
    await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
    proxy?.closeAllConnections();
    agent.destroy();
    await Promise.all(instances.map((i) => i.stop()));
  };
  try {
    // Started one after another: each opens (and for KnexStore may create)
    // the shared table; in parallel they would race on CREATE TABLE.
    for (let i = 0; i < count; i++) {
      const demo = await startDemo({
        name: `sess-multi-${i}`,
        cwd: EXPRESS_DEMO,
        command: process.execPath,
        args: ['src/server.js'],
        env: { ...options.env, SESSION_SECRET: secret },
      });
      instances.push(demo);
    }
    const served = instances.map(() => 0);
    const proxyErrors: string[] = [];
    let next = 0;
    proxy = createServer((req, res) => {
      const index = next++ % instances.length;
      served[index]!++;
      const target = new URL(req.url ?? '/', instances[index]!.url);
      const upstream = httpRequest(target, { method: req.method, headers: req.headers, agent }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', (err) => {
        proxyErrors.push(`${req.method} ${req.url} -> instance ${index}: ${err.message}`);
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy!.listen(0, '127.0.0.1', resolve));
    const { port } = proxy.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, instances, served, proxyErrors, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
