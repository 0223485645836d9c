// The core alone, in process (tinybench): load + commit on MemoryStore for an
// unchanged, a changed and a new session; cookie signing and verification.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { MemoryStore, SessionManager } from '@sess/core';
import { KNOBS, SECRET } from './config.mjs';
import { fmt, markdownTable } from './format.mjs';

const time = Number(process.env.BENCH_MICRO_TIME ?? (KNOBS.quick ? 200 : 1000));
const manager = new SessionManager({ secret: SECRET, store: new MemoryStore({ sweepInterval: 0 }), cookie: { secure: false } });

// One existing session holding a few keys, as a logged-in user's would.
const seed = await manager.load(undefined);
seed.put('user', { id: 42, name: 'Ada', roles: ['admin'] });
seed.put('n', 1);
const setCookie = await manager.commit(seed);
const cookieHeader = setCookie.split(';')[0];

// A store stub that answers at once, to time verification without MemoryStore's JSON parse.
const found = await manager.store.get(seed.id); // { record, version }
const nothing = { existed: true, written: false, consumedTokens: [], consumedFlash: {} };
const stubManager = new SessionManager({
  secret: SECRET,
  store: { get: async () => found, set: async () => {}, destroy: async () => {}, update: async () => nothing, rotate: async () => nothing },
  cookie: { secure: false },
});
const id = randomBytes(32).toString('base64url');
const mac = createHmac('sha256', SECRET).update(id).digest();

const bench = new Bench({ time, warmupTime: Math.min(200, time / 2) });
bench
  .add('load + commit, unchanged session (MemoryStore)', async () => {
    const s = await manager.load(cookieHeader);
    s.get('n');
    await manager.commit(s);
  })
  .add('load + commit, changed session (MemoryStore)', async () => {
    const s = await manager.load(cookieHeader);
    s.increment('n');
    await manager.commit(s);
  })
  .add('load + commit, new session (MemoryStore)', async () => {
    const s = await manager.load(undefined);
    s.put('n', 1);
    await manager.commit(s);
  })
  .add('cookie sign (serializeCookie: HMAC + attributes)', () => {
    manager.serializeCookie(id);
  })
  .add('cookie verify + load (store stub answers at once)', async () => {
    await stubManager.load(cookieHeader);
  })
  .add('floor: bare HMAC-SHA256 + timingSafeEqual', () => {
    timingSafeEqual(createHmac('sha256', SECRET).update(id).digest(), mac);
  });

await bench.run();
const rows = bench.tasks.map((t) => [t.name, fmt(t.result.throughput.mean, 0), fmt(t.result.latency.mean * 1000, 2), fmt(t.result.latency.p99 * 1000, 2), `±${fmt(t.result.latency.rme, 1)}%`]);
const out = [
  `## Core micro-benchmark (tinybench, ${time} ms per task, in process)`,
  '',
  markdownTable(['task', 'ops/s', 'mean µs', 'p99 µs', 'rme'], rows),
  '',
  `MemoryStore held ${manager.store.size} records at the end (new sessions accumulate; sweeps off).`,
  '',
].join('\n');
console.log(out);
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, `${KNOBS.quick ? 'quick' : 'latest'}-core.md`), out);
await manager.close();
