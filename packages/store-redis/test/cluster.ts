/**
 * A real Redis Cluster for tests: `masters` redis-server processes on free
 * loopback ports, joined by `redis-cli --cluster create`, ready once every node
 * reports `cluster_state:ok`. Always `stop()` it (in afterAll): it kills the
 * processes and deletes their directories.
 *
 * @example
 * const cluster = await startCluster();
 * const client = new Cluster(cluster.nodes);
 * afterAll(() => cluster.stop());
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startRedisServer, type RedisServer } from './redis-server.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface TestCluster {
  /** Startup nodes for `new Cluster(nodes)`. */
  nodes: Array<{ host: string; port: number }>;
  /** The node processes, to kill or restart one (failure tests). */
  servers: RedisServer[];
  /** Kills every node and deletes the temp directory. */
  stop(): Promise<void>;
}

export async function startCluster(options: { masters?: number; timeoutMs?: number } = {}): Promise<TestCluster> {
  const masters = options.masters ?? 3;
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const root = mkdtempSync(join(tmpdir(), 'sess-redis-cluster-'));
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.kill()));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const ports = new Set<number>();
    while (ports.size < masters) ports.add(await freePort());
    for (const port of ports) {
      servers.push(
        await startRedisServer({
          port,
          dir: root, // shared: each node has its own nodes-<port>.conf and persists nothing
          args: ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '5000'],
        }),
      );
    }
    await run('redis-cli', ['--cluster', 'create', ...[...ports].map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 20_000,
    });
    for (const port of ports) {
      for (;;) {
        const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'cluster', 'info'], { timeout: 5000 });
        if (stdout.includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error(`[sess test] cluster node ${port} not ok in time:\n${stdout}`);
        await sleep(100);
      }
    }
    return { nodes: [...ports].map((port) => ({ host: '127.0.0.1', port })), servers, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
