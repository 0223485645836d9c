// `bun serve.mjs <store>` or `deno run -A serve.mjs <store>`: the app on a free loopback port, store memory | file | redis.
import { createApp } from './app.mjs';

const runtime = /** @type {any} */ (globalThis);
const [which = 'memory', dir = ''] = runtime.Deno ? runtime.Deno.args : process.argv.slice(2);
let store;
if (which === 'file') {
  const { FileStore } = await import('@sess/store-file');
  store = new FileStore({ dir });
} else if (which === 'redis') {
  const { Redis } = await import('ioredis');
  const { RedisStore } = await import('@sess/store-redis');
  store = new RedisStore({ client: new Redis('redis://127.0.0.1:6379'), prefix: `sess-runtime-${Date.now()}:` });
}
const app = createApp(store);
if (runtime.Bun) {
  const server = runtime.Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: app.fetch });
  console.log(`listening on http://127.0.0.1:${server.port}`);
} else {
  runtime.Deno.serve({ port: 0, hostname: '127.0.0.1', onListen: ({ port }) => console.log(`listening on http://127.0.0.1:${port}`) }, app.fetch);
}
