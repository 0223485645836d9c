// Starts the built Next.js demo with `next start`, after the same checks as the
// Express and Koa demos: the store answers (one clear line if not), the secret
// exists. Prints "sess Next.js demo on http://127.0.0.1:<port> (store: <name>)".
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DemoSetupError, exitWithError, setupDemo } from 'demo-kit';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const setup = await setupDemo({ appDir, defaultPort: 3002, cookieName: 'sess-next' }).catch(exitWithError);
await setup.store.close(); // only a check: the Next.js server opens its own

if (!existsSync(join(appDir, '.next', 'BUILD_ID'))) {
  exitWithError(new DemoSetupError('the Next.js demo is not built yet: run `pnpm --filter next-demo build` (or `pnpm turbo run build --filter=next-demo...`) first.'));
}

// `next start -p 0` would not tell us the port it took: pick a free one first.
const port = setup.port !== 0 ? setup.port : await new Promise((resolve, reject) => {
  const probe = createServer().once('error', reject).listen(0, setup.host, () => {
    const { port: free } = /** @type {import('node:net').AddressInfo} */ (probe.address());
    probe.close(() => resolve(free));
  });
});

const nextBin = createRequire(import.meta.url).resolve('next/dist/bin/next');
const child = spawn(process.execPath, [nextBin, 'start', '-H', setup.host, '-p', String(port)], {
  cwd: appDir,
  env: {
    ...process.env,
    SESS_DATA_DIR: setup.dataDir,
    // `next start` forces NODE_ENV=production: pass on the mode the person chose
    // (Secure cookies or not) and the secret the check above settled on.
    SESS_DEMO_PRODUCTION: setup.production ? '1' : '0',
    SESSION_SECRET: /** @type {string} */ (setup.sessionOptions.secret),
    NEXT_TELEMETRY_DISABLED: '1',
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});

let announced = false;
child.stdout.on('data', (/** @type {Buffer} */ chunk) => {
  const text = chunk.toString();
  if (!announced && /Ready in|started server/i.test(text)) {
    announced = true;
    console.log(`sess Next.js demo on http://${setup.host}:${port} (store: ${setup.store.name})`);
  }
  if (process.env.SESS_DEMO_VERBOSE) process.stdout.write(text);
});
child.stderr.on('data', (/** @type {Buffer} */ chunk) => {
  const text = chunk.toString();
  if (/EADDRINUSE/.test(text)) exitWithError(new DemoSetupError(`port ${port} is in use: stop what runs there or start with PORT=<another port>.`));
  process.stderr.write(text);
});
child.once('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) process.once(signal, () => child.kill(signal));
