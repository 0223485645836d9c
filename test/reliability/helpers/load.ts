/**
 * The load run: `clients` browsers, each on its own session, each sending
 * `requests` requests of which up to `parallel` overlap. Every request increments
 * the session's counter and sets a key of its own, so a lost update shows as a
 * counter below `requests` or a missing key.
 */
import { cookieOf, percentile, round, send } from './app.js';

export interface LoadResult {
  clients: number;
  requestsPerClient: number;
  parallelPerClient: number;
  requests: number;
  failures: number;
  serverErrors: number;
  lostIncrements: number;
  missingKeys: number;
  seconds: number;
  requestsPerSecond: number;
  p50ms: number;
  p99ms: number;
}

export async function runLoad(baseUrl: string, options: { clients: number; requests: number; parallel: number }): Promise<LoadResult> {
  const { clients, requests, parallel } = options;
  const latencies: number[] = [];
  let failures = 0;
  let serverErrors = 0;
  let lostIncrements = 0;
  let missingKeys = 0;
  const started = performance.now();

  const client = async (c: number) => {
    let ok = 0;
    const hit = async (cookie: string | undefined, n: number) => {
      try {
        const r = await send(baseUrl, `/work?key=k${n}&n=${n}`, { cookie });
        latencies.push(r.ms);
        if (r.status >= 500) serverErrors++;
        if (r.status !== 200) failures++;
        else ok++;
        return r;
      } catch {
        failures++;
        return undefined;
      }
    };
    const first = await hit(undefined, 0); // creates the session
    const cookie = first && cookieOf(first.setCookie);
    if (!cookie) {
      failures += requests - 1;
      return;
    }
    let next = 1;
    const lane = async () => {
      while (next < requests) await hit(cookie, next++);
    };
    await Promise.all(Array.from({ length: parallel }, lane));
    const check = await send(baseUrl, '/all', { cookie });
    const all = check.body?.all ?? {};
    if (check.body?.isNew) throw new Error(`client ${c}: session lost`);
    // Only answered requests count: a failed one is a failure, not a lost update.
    lostIncrements += ok - (Number(all.counter) || 0);
    for (let n = 0; n < requests; n++) if (all[`k${n}`] !== n) missingKeys++;
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  const seconds = (performance.now() - started) / 1000;
  return {
    clients,
    requestsPerClient: requests,
    parallelPerClient: parallel,
    requests: clients * requests,
    failures,
    serverErrors,
    lostIncrements,
    missingKeys,
    seconds: round(seconds, 2),
    requestsPerSecond: Math.round((clients * requests) / seconds),
    p50ms: round(percentile(latencies, 50)),
    p99ms: round(percentile(latencies, 99)),
  };
}
