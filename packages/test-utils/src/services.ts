import { createConnection } from 'node:net';

/** The backing services of the test suite, with the command that starts each here. */
export const SERVICES = {
  redis: { port: 6379, url: 'redis://127.0.0.1:6379', start: 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no' },
  postgres: { port: 5432, url: 'postgres://postgres@127.0.0.1:5432/test', start: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start' },
  mysql: { port: 3306, url: 'mysql://root@127.0.0.1:3306/test', start: 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd' },
} as const;

export type ServiceName = keyof typeof SERVICES;

function reachable(port: number, host = '127.0.0.1', timeoutMs = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Whether a service's tests can run. A missing service is a failure when
 * `SESS_REQUIRE_SERVICES=1` (set by CI, so nothing is skipped silently); otherwise
 * the tests are skipped with one clear line saying which service and how to start it.
 *
 * @example
 * const hasRedis = await requireService('redis');
 * describe.skipIf(!hasRedis)('RedisStore', () => { ... });
 */
export async function requireService(name: ServiceName): Promise<boolean> {
  const service = SERVICES[name];
  if (await reachable(service.port)) return true;
  const message = `[sess test] ${name} is not reachable on 127.0.0.1:${service.port}; start it with: ${service.start}`;
  if (process.env.SESS_REQUIRE_SERVICES === '1') throw new Error(`${message} (SESS_REQUIRE_SERVICES=1 makes a missing service a failure)`);
  console.warn(`${message} — skipping its tests`);
  return false;
}
