/**
 * Real redis-server child processes for tests: a private node on a free loopback
 * port that a test may kill and restart (outage tests), and the building block
 * of `startCluster()`. Nothing here touches the shared Redis on 6379.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const live = new Set<ChildProcess>();
// A crashed or aborted test run must not leave servers behind.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A free loopback port whose cluster bus port (port + 10000) is free too, below
 * the ephemeral range so that +10000 stays a valid port.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    if ((await canBind(port)) && (await canBind(port + 10000))) return port;
  }
  throw new Error('[sess test] no free port pair found on 127.0.0.1');
}

/**
 * Whether the redis-server and redis-cli binaries are here. Missing is a failure
 * when SESS_REQUIRE_SERVICES=1, otherwise the tests that need them skip loudly.
 */
export function hasRedisBinaries(): boolean {
  const found = ['redis-server', 'redis-cli'].every((bin) => spawnSync(bin, ['--version']).status === 0);
  if (found) return true;
  const message = '[sess test] redis-server/redis-cli not found on PATH; install them with: apt-get install redis-server';
  if (process.env.SESS_REQUIRE_SERVICES === '1') throw new Error(`${message} (SESS_REQUIRE_SERVICES=1 makes a missing service a failure)`);
  console.warn(`${message} — skipping the tests that start their own Redis`);
  return false;
}

export interface RedisServer {
  readonly port: number;
  readonly dir: string;
  /** Starts (again) on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Kills the process (SIGKILL: an outage, not a shutdown); resolves once it exited. */
  kill(): Promise<void>;
  /** Kills it and removes its directory. */
  stop(): Promise<void>;
}

/** A redis-server on a free port with no persistence, in its own temp directory. */
export async function startRedisServer(options: { port?: number; args?: string[]; dir?: string } = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'sess-redis-'));
  let child: ChildProcess | undefined;

  const start = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...(options.args ?? [])];
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`[sess test] redis-server on ${port} did not start in 10 s:\n${output}`)), 10_000);
      proc.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`[sess test] redis-server on ${port} exited with ${code}:\n${output}`));
      });
    });
    proc.stdout!.resume();
    proc.stderr!.resume();
  };

  const kill = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGKILL');
    await exited;
  };

  await start();
  return {
    port,
    dir,
    start,
    kill,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
