/**
 * @sess/hono on Bun, Deno and workerd (the runtime of Cloudflare Workers), over
 * real HTTP on loopback: the app of ./runtimes/app.mjs, driven from Node.
 *
 * The runtimes are not dependencies of the repository (about 300 MB): each
 * check runs when its binary is found in SESS_RUNTIMES_BIN or on the PATH, and
 * is skipped with one line otherwise. To run them all:
 *   npm i --prefix /tmp/sess-runtimes bun deno workerd
 *   SESS_RUNTIMES_BIN=/tmp/sess-runtimes/node_modules/.bin npx vitest run --project hono runtimes
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { requireService } from '@sess/test-utils';
import { afterAll, describe, expect, it } from 'vitest';

const here = fileURLToPath(new URL('./runtimes/', import.meta.url));
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'sess-runtimes-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
});

function find(name: string): string | undefined {
  const dirs = [process.env.SESS_RUNTIMES_BIN, ...(process.env.PATH ?? '').split(delimiter)].filter(Boolean) as string[];
  const found = dirs.map((dir) => join(dir, name)).find((file) => existsSync(file));
  if (!found) console.warn(`[sess test] ${name} not found in SESS_RUNTIMES_BIN or PATH: skipping its checks (npm i --prefix /tmp/sess-runtimes bun deno workerd, then SESS_RUNTIMES_BIN=/tmp/sess-runtimes/node_modules/.bin)`);
  return found;
}

function version(binary: string): string {
  return spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim().split('\n')[0]!;
}

/** Starts a server process and resolves with its URL (printed as "listening on …"), or with what it printed. */
function start(command: string, args: string[], options: { cwd: string; url?: string }): Promise<{ url: string; output: () => string }> {
  const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not start:\n${output}`)), 20_000);
    const ready = (url: string) => {
      clearTimeout(timer);
      resolve({ url, output: () => output });
    };
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) ready(match[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}:\n${output}`)));
    if (options.url) {
      // workerd prints nothing when it listens: poll the socket.
      const poll = async () => {
        for (let i = 0; i < 100; i++) {
          try {
            await fetch(options.url!);
            return ready(options.url!);
          } catch {
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      };
      void poll();
    }
  });
}

/** What a browser does against the app: the results every runtime must give. */
async function drive(base: string) {
  let cookie = '';
  const send = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(base + path, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), ...(cookie ? { cookie } : {}) } });
    const set = response.headers.getSetCookie()[0];
    if (set) cookie = set.split(';')[0]!;
    return response;
  };
  const form = (token: string) => ({ method: 'POST', body: new URLSearchParams({ _token: token, name: 'ada' }) });
  const first = await (await send('/increment')).json();
  const second = await (await send('/increment')).json();
  const { token } = (await (await send('/form')).json()) as { token: string };
  const posted = await send('/form', form(token));
  const replay = await send('/form', form(token));
  const signin = await send('/signin');
  const whoami = await (await send('/whoami')).json();
  const failed = await send('/fail');
  const after = await (await send('/whoami')).json();
  return {
    counter: [first, second],
    post: [posted.status, await posted.json(), posted.headers.get('vary')],
    replay: [replay.status, (await replay.text()).slice(0, 25)],
    signin: [signin.status, signin.headers.get('location'), signin.headers.getSetCookie().length],
    whoami,
    failed: [failed.status, failed.headers.getSetCookie().length],
    after,
  };
}

const expected = {
  counter: [{ value: 1 }, { value: 2 }],
  post: [200, { ok: true, name: 'ada' }, 'Sec-Fetch-Site, Origin'],
  replay: [403, '[sess] CSRF token invalid'],
  signin: [302, '/whoami', 1],
  whoami: { user: 'ada' },
  failed: [500, 0],
  after: { user: 'ada' },
};

const hasRedis = await requireService('redis');

for (const [name, binary, args] of [
  ['bun', find('bun'), (store: string, dir: string) => ['serve.mjs', store, dir]],
  ['deno', find('deno'), (store: string, dir: string) => ['run', '-A', '--node-modules-dir=manual', 'serve.mjs', store, dir]],
] as const) {
  describe.skipIf(!binary)(`${name}${binary ? ` (${version(binary)})` : ''}`, () => {
    for (const store of ['memory', 'file', 'redis'] as const) {
      it.skipIf(store === 'redis' && !hasRedis)(`serves @sess/hono with the ${store} store: counter, CSRF once, sign-in, rollback`, { timeout: 30_000 }, async () => {
        const server = await start(binary!, args(store, join(work, `${name}-${store}`)), { cwd: here });
        expect(await drive(server.url)).toEqual(expected);
      });
    }
  });
}

const workerd = find('workerd');
describe.skipIf(!workerd)(`workerd${workerd ? ` (${version(workerd)})` : ''}, the Cloudflare Workers runtime, bundled as wrangler does with nodejs_compat`, () => {
  let port = 18_700 + Math.floor(Math.random() * 200);
  const bundle = join(work, 'worker.js');

  const serveWorker = async (compatibilityDate: string) => {
    if (!existsSync(bundle)) {
      await build({
        entryPoints: [join(here, 'worker.mjs')],
        bundle: true,
        format: 'esm',
        platform: 'neutral',
        conditions: ['workerd', 'worker', 'browser', 'import'],
        mainFields: ['module', 'main'],
        outfile: bundle,
        logLevel: 'error',
        absWorkingDir: packageDir,
        // Node built-ins, with or without `node:` (tsup drops the prefix), stay imports of node:<name>.
        plugins: [
          {
            name: 'node-builtins',
            setup(b) {
              b.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, ({ path }) => {
                const bare = path.replace(/^node:/, '');
                return builtinModules.includes(bare) ? { path: `node:${bare}`, external: true } : undefined;
              });
            },
          },
        ],
      });
    }
    port += 1;
    const config = join(work, `config-${compatibilityDate}.capnp`);
    writeFileSync(
      config,
      `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [ (name = "worker", esModule = embed "worker.js") ],
  compatibilityDate = "${compatibilityDate}",
  compatibilityFlags = ["nodejs_compat"],
);
`,
    );
    return start(workerd!, ['serve', config], { cwd: work, url: `http://127.0.0.1:${port}/increment` });
  };

  for (const date of ['2026-02-10', '2026-11-01']) {
    it(`serves @sess/hono with the MemoryStore, compatibility date ${date}`, { timeout: 60_000 }, async () => {
      const server = await serveWorker(date);
      // The poll that found the socket already made one request: a new client starts here.
      expect(await drive(server.url.replace('/increment', ''))).toEqual(expected);
    });
  }

  it('fails before 2026-02-10: the MemoryStore sweeper timer has no unref() there', { timeout: 60_000 }, async () => {
    const server = await serveWorker('2026-02-08');
    const response = await fetch(server.url.replace('/increment', '/increment'));
    expect(response.status).toBe(500);
    expect(server.output()).toMatch(/unref is not a function/);
  });

  it('fails before 2025-08-15: @sess/core/http imports node:http (STATUS_CODES), which older dates lack', { timeout: 60_000 }, async () => {
    await expect(serveWorker('2025-08-14')).rejects.toThrow(/No such module "node:http"/);
  });
});
