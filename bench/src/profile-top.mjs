// Summarises a V8 .cpuprofile (from BENCH_PROFILE=<scenario> pnpm bench):
//   node src/profile-top.mjs profiles/<scenario>.cpuprofile [top=25]
// Prints self time by function and by area (package / node internals / GC).
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const idle = [...self].filter(([id]) => byId.get(id).callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
const busy = total - idle;

const area = (url, name) => {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(program)') return '(program: native/VM)';
  if (!url) return 'native';
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const m = /packages\/([^/]+)\/dist/.exec(url) ?? /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  return m ? m[1] : url.split('/').slice(-2).join('/');
};
const fn = new Map();
const areas = new Map();
for (const [id, t] of self) {
  const { functionName, url, lineNumber } = byId.get(id).callFrame;
  if (functionName === '(idle)') continue;
  const key = `${functionName || '(anonymous)'} ${url ? url.replace(/^.*\/(packages|node_modules)\//, '$1/') + ':' + (lineNumber + 1) : ''}`;
  fn.set(key, (fn.get(key) ?? 0) + t);
  const a = area(url, functionName);
  areas.set(a, (areas.get(a) ?? 0) + t);
}
const pct = (t) => ((t / busy) * 100).toFixed(1).padStart(5) + '%';
console.log(`${file}: busy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s sampled`);
console.log('\nby area (self time):');
for (const [a, t] of [...areas].sort((x, y) => y[1] - x[1]).slice(0, 15)) console.log(`${pct(t)}  ${a}`);
console.log(`\ntop ${top} functions (self time):`);
for (const [k, t] of [...fn].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);
