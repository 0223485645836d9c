/**
 * Steady background traffic for the fault checks: each client loops on its own
 * session (one request at a time, a short gap between) until stopped, and every
 * answer is kept with its start and end time for later analysis.
 */
import { cookieOf, send } from './app.js';

export interface Sample {
  client: number;
  start: number;
  end: number;
  status: number; // 0: no answer (socket error or timeout)
  /** The answer set a different session cookie: the client's session was replaced. */
  replaced: boolean;
}

export interface Traffic {
  /** Stops the loops and resolves with every sample, once in-flight requests ended. */
  stop(): Promise<Sample[]>;
  /** Successful requests per client so far. */
  ok: number[];
}

export function startTraffic(baseUrl: string, cookies: string[], options: { gapMs?: number; timeoutMs?: number } = {}): Traffic {
  const samples: Sample[] = [];
  const ok = cookies.map(() => 0);
  let running = true;
  const loops = cookies.map(async (cookie, client) => {
    let n = 0;
    while (running) {
      const start = performance.now();
      try {
        const r = await send(baseUrl, `/work?key=last&n=${n++}`, { cookie, timeoutMs: options.timeoutMs ?? 10_000 });
        const sent = cookieOf(r.setCookie);
        samples.push({ client, start, end: performance.now(), status: r.status, replaced: sent !== undefined && sent !== cookie });
        if (r.status === 200) ok[client]!++;
      } catch {
        samples.push({ client, start, end: performance.now(), status: 0, replaced: false });
      }
      await new Promise((resolve) => setTimeout(resolve, options.gapMs ?? 20));
    }
  });
  return {
    ok,
    async stop() {
      running = false;
      await Promise.all(loops);
      return samples;
    },
  };
}

/** Creates `count` stored sessions (counter at 1) and returns their cookies. */
export async function seedSessions(baseUrl: string, count: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const r = await send(baseUrl, '/work?key=seed&n=1');
      if (r.status !== 200) throw new Error(`seeding answered ${r.status}`);
      return cookieOf(r.setCookie)!;
    }),
  );
}

/** Milliseconds from `from` until every client has had a successful answer that started after `from`, and until the first one. */
export function recovery(samples: Sample[], clients: number, from: number): { firstMs: number; allMs: number } {
  let first = Infinity;
  const firstPerClient = new Map<number, number>();
  for (const s of samples) {
    if (s.status !== 200 || s.start < from) continue;
    first = Math.min(first, s.end);
    firstPerClient.set(s.client, Math.min(firstPerClient.get(s.client) ?? Infinity, s.end));
  }
  const all = firstPerClient.size === clients ? Math.max(...firstPerClient.values()) : Infinity;
  return { firstMs: Math.round(first - from), allMs: Math.round(all - from) };
}
