// `pnpm bench`: starts every scenario server in its own child process on
// loopback, loads each with autocannon from this process, repeats the rounds,
// and prints one table (medians), the store-command counts, the targets, then
// runs the core micro-benchmark and the memory/scale benchmark.
import { fork, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { KNOBS } from './config.mjs';
import { ROUND, SCENARIOS } from './scenarios.mjs';
import { barChart } from './svg.mjs';
import { markdownTable, median, fmt } from './format.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const benchDir = path.resolve(here, '..');
const args = new Set(process.argv.slice(2));
const onlyHttp = args.has('--only=http');
const profile = new Set((process.env.BENCH_PROFILE ?? '').split(',').filter(Boolean));
const wanted = (id) => !KNOBS.only || KNOBS.only.some((p) => id.startsWith(p));
const log = (...a) => console.error('[bench]', ...a);

// ---- servers ---------------------------------------------------------------------
function startServer(scenario) {
  const execArgv = [];
  if (profile.has(scenario.id)) {
    const dir = path.join(benchDir, 'profiles');
    mkdirSync(dir, { recursive: true });
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${scenario.id}.cpuprofile`);
  }
  const child = fork(path.join(here, 'server.mjs'), [scenario.id], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1' },
  });
  const waiting = new Map();
  child.on('exit', (code) => {
    for (const [, settle] of waiting) settle(undefined, new Error(`${scenario.id}: server exited with ${code}`));
    waiting.clear();
  });
  child.on('message', (msg) => {
    const resolve = waiting.get(msg.type);
    waiting.delete(msg.type);
    resolve?.(msg);
  });
  const next = (type, timeoutMs = 60_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${scenario.id}: no "${type}" within ${timeoutMs} ms`)), timeoutMs);
      waiting.set(type, (msg, err) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(msg);
      });
    });
  return {
    child,
    ready: next('ready', 120_000),
    async ask(type, reply) {
      const answer = next(reply);
      child.send({ type });
      return answer;
    },
  };
}

/** Makes `count` sessions holding n (one GET /write each) and returns their Cookie headers. */
async function primeSessions(port, count) {
  const cookies = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/write`);
    await res.text();
    const set = res.headers.getSetCookie();
    if (res.status !== 200 || set.length === 0) throw new Error(`priming got ${res.status} with ${set.length} cookies`);
    cookies.push(set.map((c) => c.split(';')[0]).join('; '));
  }
  // Check that the cookie really carries the session (a read sees n = 1).
  const check = await fetch(`http://127.0.0.1:${port}/read`, { headers: { cookie: cookies[0] } });
  const body = await check.json();
  if (body.n !== 1) throw new Error(`session not kept: /read answered ${JSON.stringify(body)}`);
  return cookies;
}

function load(port, route, cookies, seconds) {
  let i = 0;
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: KNOBS.connections,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        path: route,
        // A steady-state client: every request carries one of the live session cookies.
        setupRequest: (req) => ({ ...req, headers: { ...req.headers, cookie: cookies[i++ % cookies.length] } }),
      },
    ],
  });
}

async function measure(server, port, route, cookies) {
  if (KNOBS.warmup > 0) await load(port, route, cookies, KNOBS.warmup);
  await server.ask('start', 'started');
  const result = await load(port, route, cookies, KNOBS.duration);
  const stats = await server.ask('stop', 'stats');
  const served = stats.served || 1;
  const per = (obj) => Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, v / served]));
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuUs: (stats.cpuUser + stats.cpuSystem) / served,
    errors: result.errors + result.timeouts + result.non2xx,
    served: stats.served,
    store: per(stats.counts.store),
    backend: per(stats.counts.backend),
    rssMb: stats.rss / 2 ** 20,
  };
}

// ---- main ------------------------------------------------------------------------------
const started = Date.now();
const machine = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}`,
  memGb: (os.totalmem() / 2 ** 30).toFixed(1),
  os: `${os.type()} ${os.release()}`,
  load: os.loadavg().map((x) => x.toFixed(2)).join(' '),
};
log(`duration ${KNOBS.duration}s, warmup ${KNOBS.warmup}s, repeats ${KNOBS.repeats}, ${KNOBS.connections} connections, ${KNOBS.sessions} sessions${KNOBS.quick ? ' (quick mode)' : ''}`);

const servers = new Map();
const skipped = new Map();
for (const scenario of SCENARIOS.filter((s) => wanted(s.id) || s.id === 'express-bare')) {
  const server = startServer(scenario);
  try {
    const { port } = await server.ready;
    const cookies = scenario.lib === 'bare' ? Array.from({ length: KNOBS.sessions }, (_, i) => `sid=bare${i}`) : await primeSessions(port, KNOBS.sessions);
    servers.set(scenario.id, { server, port, cookies });
    log(`${scenario.id} listening on ${port}`);
  } catch (err) {
    skipped.set(scenario.id, err.message);
    log(`${scenario.id} skipped: ${err.message}`);
    server.child.kill();
  }
}

const samples = new Map(); // `${id} ${route}` -> measurements
const drift = []; // bare Express read req/s at each position
for (let round = 1; round <= KNOBS.repeats; round++) {
  for (const id of ROUND) {
    const entry = servers.get(id);
    if (!entry) continue;
    for (const route of KNOBS.routes) {
      const m = await measure(entry.server, entry.port, route, entry.cookies);
      const key = `${id} ${route}`;
      if (!samples.has(key)) samples.set(key, []);
      samples.get(key).push(m);
      if (id === 'express-bare' && route === '/read') drift.push({ round, rps: m.rps });
      log(`round ${round}/${KNOBS.repeats} ${key}: ${fmt(m.rps, 0)} req/s, p99 ${m.p99} ms, ${fmt(m.cpuUs, 1)} µs CPU/req${m.errors ? `, ${m.errors} errors` : ''}`);
    }
  }
}

for (const { server } of servers.values()) {
  try {
    await server.ask('close', 'closed');
  } catch (err) {
    log(err.message);
  }
}

// ---- results ---------------------------------------------------------------------------
const rows = [];
const med = (key) => {
  const list = samples.get(key);
  if (!list) return undefined;
  const countsOf = (field) => {
    const names = new Set(list.flatMap((m) => Object.keys(m[field])));
    return Object.fromEntries([...names].map((n) => [n, median(list.map((m) => m[field][n] ?? 0))]));
  };
  return {
    n: list.length,
    rps: median(list.map((m) => m.rps)),
    p50: median(list.map((m) => m.p50)),
    p99: median(list.map((m) => m.p99)),
    cpuUs: median(list.map((m) => m.cpuUs)),
    errors: list.reduce((a, m) => a + m.errors, 0),
    store: countsOf('store'),
    backend: countsOf('backend'),
  };
};
const counted = (obj) =>
  Object.entries(obj)
    .filter(([, v]) => v >= 0.005)
    .map(([k, v]) => `${k} ${fmt(v, 2)}`)
    .join(', ') || '0';

for (const s of SCENARIOS) {
  for (const route of ['/read', '/write']) {
    const r = med(`${s.id} ${route}`);
    if (!r) continue;
    const peer = s.peer && med(`${s.peer} ${route}`);
    const bare = med(`express-bare ${route}`);
    const fwBare = med(`${s.framework}-bare ${route}`);
    rows.push({ scenario: s, route, ...r, vsPeer: peer ? r.rps / peer.rps : undefined, vsPeerCpu: peer ? peer.cpuUs / r.cpuUs : undefined, vsBare: bare ? r.rps / bare.rps : undefined, vsFwBare: fwBare ? r.rps / fwBare.rps : undefined });
  }
}

const table = markdownTable(
  ['scenario', 'route', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'vs peer (req/s)', 'vs peer (CPU)', 'vs bare Express', 'vs bare framework', 'store calls/req', 'backend cmds/req', 'errors'],
  rows.map((r) => [
    r.scenario.label,
    r.route,
    fmt(r.rps, 0),
    fmt(r.p50, 0),
    fmt(r.p99, 0),
    fmt(r.cpuUs, 1),
    r.vsPeer === undefined ? '' : `${fmt(r.vsPeer, 2)}x`,
    r.vsPeerCpu === undefined ? '' : `${fmt(r.vsPeerCpu, 2)}x`,
    r.vsBare === undefined ? '' : `${fmt(r.vsBare * 100, 0)}%`,
    r.vsFwBare === undefined ? '' : `${fmt(r.vsFwBare * 100, 0)}%`,
    counted(r.store),
    counted(r.backend),
    r.errors || '',
  ]),
);

// ---- targets ----------------------------------------------------------------------------
// Round two (issue 14). Each target is checked on both ratios: req/s (this row over the
// other) and server CPU per request (the other's over this row's). "holds" needs both;
// on a shared machine CPU per request is the steadier of the two.
const row = (id, route) => rows.find((r) => r.scenario.id === id && r.route === route);
const targets = [];
function target(name, a, b, minRatio, group = 'round two') {
  const ra = row(...a);
  const rb = row(...b);
  if (!ra || !rb) return targets.push({ name, group, minRatio, status: `not measured${skipped.has(a[0]) ? ` (${a[0]} skipped)` : skipped.has(b[0]) ? ` (${b[0]} skipped)` : ''}` });
  const ratio = ra.rps / rb.rps;
  const cpuRatio = rb.cpuUs / ra.cpuUs;
  const byRps = ratio >= minRatio;
  const byCpu = cpuRatio >= minRatio;
  const short = (x) => {
    const pct = (1 - x / minRatio) * 100;
    return `${fmt(pct, pct < 1 ? 1 : 0)}%`;
  };
  const status = byRps && byCpu ? 'holds' : byRps ? `holds on req/s; CPU/req short by ${short(cpuRatio)}` : byCpu ? `holds on CPU/req; req/s short by ${short(ratio)}` : `MISSED by ${short(ratio)} (req/s), ${short(cpuRatio)} (CPU/req)`;
  targets.push({ name, group, ratio, cpuRatio, minRatio, holds: byRps && byCpu, byRps, byCpu, status });
}
const pct = (x) => `${fmt(x * 100, 0)}%`;
// Read: the session nearly free.
target(`read: @sess/express Memory >= ${pct(0.9)} of bare Express`, ['sess-express-memory', '/read'], ['express-bare', '/read'], 0.9);
target(`read: @sess/koa Memory >= ${pct(0.85)} of bare Koa`, ['sess-koa-memory', '/read'], ['koa-bare', '/read'], 0.85);
target(`read: @sess/express Redis >= ${pct(0.75)} of bare Express`, ['sess-express-redis', '/read'], ['express-bare', '/read'], 0.75);
target(`read: @sess/koa Redis >= ${pct(0.75)} of bare Koa`, ['sess-koa-redis', '/read'], ['koa-bare', '/read'], 0.75);
// Write.
target('write: @sess/express Memory >= 1.4x express-session Memory', ['sess-express-memory', '/write'], ['es-memory', '/write'], 1.4);
target('write: @sess/express Redis >= 1.5x express-session + connect-redis', ['sess-express-redis', '/write'], ['es-redis', '/write'], 1.5);
target('write: @sess/koa Memory >= 1.3x koa-session (cookie)', ['sess-koa-memory', '/write'], ['koa-session-cookie', '/write'], 1.3);
target('write: @sess/koa Redis >= 1.3x koa-session + koa-redis', ['sess-koa-redis', '/write'], ['koa-session-redis', '/write'], 1.3);
// Embedded stores.
target(`write: @sess/express KnexStore SQLite >= ${pct(0.3)} of bare Express`, ['sess-express-sqlite', '/write'], ['express-bare', '/write'], 0.3);
target('write: @sess/express KnexStore SQLite >= 2x express-session + better-sqlite3-session-store', ['sess-express-sqlite', '/write'], ['es-sqlite', '/write'], 2);
target('write: @sess/express FileStore >= 2x express-session + session-file-store', ['sess-express-file', '/write'], ['es-file', '/write'], 2);
target('read: @sess/express FileStore >= 1.5x express-session + session-file-store', ['sess-express-file', '/read'], ['es-file', '/read'], 1.5);
// PostgreSQL.
for (const route of ['/read', '/write']) {
  target(`${route.slice(1)}: @sess/express KnexStore PG >= 1.5x express-session + connect-pg-simple`, ['sess-express-pg', route], ['es-pgsimple', route], 1.5);
}
// Fastify and Hono, where their adapters exist.
for (const [fw, peer, label] of [['fastify', 'fastify-session', '@fastify/session'], ['hono', 'hono-sessions', 'hono-sessions']]) {
  if (!SCENARIOS.some((s) => s.id === `sess-${fw}-memory`)) continue;
  for (const route of ['/read', '/write']) target(`${route.slice(1)}: @sess/${fw} Memory >= 1.3x ${label}`, [`sess-${fw}-memory`, route], [peer, route], 1.3);
}
// Round one's targets that round two did not replace, kept as a regression check.
target('read: @sess/express Redis >= 1.3x express-session + connect-redis', ['sess-express-redis', '/read'], ['es-redis', '/read'], 1.3, 'round one (kept)');
target('write: @sess/express KnexStore PG >= 1.2x express-session + connect-session-knex', ['sess-express-pg', '/write'], ['es-pg', '/write'], 1.2, 'round one (kept)');
target('read: @sess/koa Redis >= koa-session + koa-redis', ['sess-koa-redis', '/read'], ['koa-session-redis', '/read'], 1, 'round one (kept)');
target('read: @sess/next >= iron-session (route handler)', ['next-sess', '/read'], ['next-iron', '/read'], 1, 'round one (kept)');

// Store economy: a read costs one read and no write; a write one read and one write (or one atomic update).
const economy = [];
for (const r of rows.filter((x) => x.scenario.lib !== 'bare' && !['cookie'].includes(x.scenario.store))) {
  const st = r.store;
  const reads = st.get ?? 0;
  const writes = (st.set ?? 0) + (st.update ?? 0) + (st.rotate ?? 0) + (st.touch ?? 0) + (st.destroy ?? 0);
  // 3% slack: requests in flight at the window's edges are counted on one side only.
  const ok = r.route === '/read' ? reads <= 1.03 && writes <= 0.03 : reads <= 1.03 && writes <= 1.03;
  economy.push([r.scenario.label, r.route, fmt(reads, 2), fmt(writes, 2), counted(r.backend), ok ? 'yes' : 'NO']);
}
const economyTable = markdownTable(['scenario', 'route', 'store reads/req', 'store writes/req', 'backend cmds/req', '<= 1 read + (read: 0 | write: 1) write'], economy);

const targetTable = markdownTable(
  ['target', 'group', 'req/s ratio', 'CPU/req ratio', 'result'],
  targets.map((t) => [t.name, t.group, t.ratio === undefined ? '' : `${fmt(t.ratio, 2)}x`, t.cpuRatio === undefined ? '' : `${fmt(t.cpuRatio, 2)}x`, t.status]),
);
const held = targets.filter((t) => t.group === 'round two' && t.holds).length;
const measured = targets.filter((t) => t.group === 'round two' && t.ratio !== undefined).length;
const driftLine = drift.map((d) => fmt(d.rps, 0)).join(', ');
const driftSpread = drift.length > 1 ? (Math.max(...drift.map((d) => d.rps)) / Math.min(...drift.map((d) => d.rps)) - 1) * 100 : 0;

const lines = [
  `## HTTP (medians of ${KNOBS.repeats} round(s); ${KNOBS.duration}s windows after ${KNOBS.warmup}s warm-up; ${KNOBS.connections} connections; ${KNOBS.sessions} live sessions)`,
  '',
  `Machine: ${machine.cpus}, ${machine.memGb} GB, ${machine.os}, Node ${machine.node}, ${machine.date}, load average at start ${machine.load}.`,
  '',
  table,
  '',
  '"vs peer (CPU)" is the peer\'s server CPU per request divided by ours (higher is better for us).',
  '',
  `Bare Express /read req/s at each position in the rounds (drift): ${driftLine} (max/min - 1 = ${fmt(driftSpread, 0)}%).`,
  ...(skipped.size ? ['', 'Skipped: ' + [...skipped].map(([id, why]) => `${id} (${why})`).join('; ')] : []),
  '',
  '### Store calls per request',
  '',
  economyTable,
  '',
  '### Targets',
  '',
  `Round two: ${held} of ${measured} measured targets hold on both ratios (the memory target is in the scale table).`,
  '',
  targetTable,
  '',
];
const report = lines.join('\n');
console.log(report);

const outDir = path.join(benchDir, 'results');
mkdirSync(outDir, { recursive: true });
// Only a full run (all scenarios and routes, no profiler) replaces latest-* and rps.svg.
const partial = KNOBS.only || profile.size > 0 || KNOBS.routes.join() !== '/read,/write';
const tag = KNOBS.quick ? 'quick' : partial ? 'partial' : 'latest';
writeFileSync(path.join(outDir, `${tag}-http.md`), report);
writeFileSync(path.join(outDir, `${tag}-http.json`), JSON.stringify({ machine, knobs: KNOBS, rows, targets, drift, skipped: [...skipped] }, null, 2));
const svg = barChart(
  rows.map((r) => ({ label: `${r.scenario.label} ${r.route}`, value: r.rps, group: r.scenario.lib, route: r.route })),
  { title: `Requests/s per scenario (median of ${KNOBS.repeats}, ${KNOBS.connections} connections, Node ${machine.node}, ${machine.cpus.split(' x ')[0]} cores)` },
);
writeFileSync(tag === 'latest' ? path.join(benchDir, 'rps.svg') : path.join(outDir, `${tag}-rps.svg`), svg);
log(`HTTP part took ${fmt((Date.now() - started) / 1000, 0)} s`);

if (!onlyHttp && !KNOBS.only) {
  for (const script of ['micro.mjs', 'diagnostics.mjs', 'scale.mjs']) {
    const r = spawnSync(process.execPath, ['--expose-gc', path.join(here, script)], { stdio: 'inherit', env: process.env });
    if (r.status !== 0) log(`${script} failed with ${r.status}`);
  }
}
log(`total ${fmt((Date.now() - started) / 1000, 0)} s`);
