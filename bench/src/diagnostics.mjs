// The cost of sess's diagnostics_channel events, in process (tinybench): the
// same load + commit with nobody subscribed, with a subscriber on every channel,
// and with @sess/otel recording spans. Printed as a table of ratios to the
// unsubscribed run, which is the one every app without a subscriber pays.
import { channel, subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { CHANNELS, MemoryStore, SessionManager } from '@sess/core';
import { KNOBS, SECRET } from './config.mjs';
import { fmt, markdownTable } from './format.mjs';

const time = Number(process.env.BENCH_MICRO_TIME ?? (KNOBS.quick ? 200 : 1000));
const manager = new SessionManager({ secret: SECRET, store: new MemoryStore({ sweepInterval: 0 }), cookie: { secure: false } });
const seed = await manager.load(undefined);
seed.put('n', 1);
const cookieHeader = (await manager.commit(seed)).split(';')[0];

const readOnly = async () => {
  const s = await manager.load(cookieHeader);
  s.get('n');
  await manager.commit(s);
};
const write = async () => {
  const s = await manager.load(cookieHeader);
  s.increment('n');
  await manager.commit(s);
};

let seen = 0;
const listener = () => void seen++;
const subscribeAll = () => Object.values(CHANNELS).forEach((name) => subscribe(name, listener));
const unsubscribeAll = () => Object.values(CHANNELS).forEach((name) => unsubscribe(name, listener));

// What a request pays with nobody subscribed: the hasSubscribers checks of a
// load and a commit (at most 8), nothing else.
const channels = Object.values(CHANNELS).map((name) => channel(name));
let sink = 0;
const checksOnly = () => {
  for (const c of channels) if (c.hasSubscribers) sink++;
};

// Tasks are run in order; the subscriber is switched on and off around them.
const bench = new Bench({ time, warmupTime: Math.min(200, time / 2) });
bench
  .add('read, nobody subscribed', readOnly)
  .add('write, nobody subscribed', write)
  .add('read, a subscriber on every channel', readOnly, { beforeAll: subscribeAll, afterAll: unsubscribeAll })
  .add('write, a subscriber on every channel', write, { beforeAll: subscribeAll, afterAll: unsubscribeAll })
  .add('the checks alone (8 hasSubscribers reads), nobody subscribed', checksOnly);
await bench.run();

// Time per operation from throughput (the steadier figure), as a ratio to the unsubscribed run.
const perOp = Object.fromEntries(bench.tasks.map((t) => [t.name, 1 / t.result.throughput.mean]));
const rows = bench.tasks.map((t) => {
  const base = t.name.startsWith('write') ? perOp['write, nobody subscribed'] : perOp['read, nobody subscribed'];
  const ratio = perOp[t.name] / base;
  return [t.name, fmt(t.result.throughput.mean, 0), fmt(perOp[t.name] * 1e6, 3), ratio < 0.1 ? `${fmt(ratio * 100, 2)}% of a read` : `${fmt(ratio, 2)}x`];
});
const out = [
  `## Diagnostics: load + commit with and without a subscriber (tinybench, ${time} ms per task, MemoryStore, in process)`,
  '',
  markdownTable(['task', 'ops/s', 'µs per op', 'time vs. nobody subscribed'], rows),
  '',
  `Events delivered to the subscriber: ${seen}${sink ? ` (${sink} stray)` : ''}. With nobody subscribed, core checks \`hasSubscribers\` and builds no event and reads no clock: the last row, as a share of a read, is what diagnostics cost an app that does not use them.`,
  '',
].join('\n');
console.log(out);
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, `${KNOBS.quick ? 'quick' : 'latest'}-diagnostics.md`), out);
await manager.close();
