import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Starts a demo the way a person does (its own process), on a free loopback
 * port, with a fresh data folder and the file store, and resolves once it
 * prints its URL.
 * @param {{ name: string, cwd: string, command: string, args: string[], env?: Record<string, string>, timeoutMs?: number }} options
 * @returns {Promise<{ url: string, dataDir: string, output: () => string, stop: () => Promise<void> }>}
 */
export async function startDemo({ name, cwd, command, args, env = {}, timeoutMs = 60_000 }) {
  const dataDir = mkdtempSync(join(tmpdir(), `${name}-`));
  // Without vitest's NODE_ENV=test: the demo runs as a person starts it.
  const { NODE_ENV, ...inherited } = process.env;
  const child = spawn(command, args, {
    cwd,
    env: { ...inherited, PORT: '0', SESS_STORE: 'file', SESS_DATA_DIR: dataDir, SESSION_SECRET: '', NEXT_TELEMETRY_DISABLED: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so stop() also ends what it spawned
  });
  let output = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} printed no URL within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (/** @type {Buffer} */ chunk) => {
      output += chunk;
      const match = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with code ${code} before printing its URL:\n${output}`));
    });
  });
  return {
    url: /** @type {string} */ (url),
    dataDir,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-(/** @type {number} */ (child.pid)), 'SIGTERM');
        } catch {}
        const killer = setTimeout(() => {
          try {
            process.kill(-(/** @type {number} */ (child.pid)), 'SIGKILL');
          } catch {}
        }, 5000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
