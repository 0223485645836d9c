/**
 * The reliability load over real HTTP: `clients` browsers, each on its own
 * session, each sending `requests` requests of which `parallel` overlap, a
 * mix of increments (`GET /increment?key=counter`) and reads
 * (`GET /get?key=counter`). A lost update shows as a final counter below the
 * number of answered increments. Also used by @sess/hono's tests.
 */
export interface LoadResult {
  requests: number;
  increments: number;
  /** Requests answered 5xx. */
  serverErrors: number;
  /** Requests not answered 200 (network errors included). */
  failures: number;
  /** Answered increments that the final counters do not show, summed over clients. */
  lostUpdates: number;
  /** Clients whose final counter is above their answered increments (a replayed write). */
  overcounted: number;
  seconds: number;
}

export async function runLoad(baseUrl: string, { clients = 50, requests = 200, parallel = 4 } = {}): Promise<LoadResult> {
  let serverErrors = 0;
  let failures = 0;
  let lostUpdates = 0;
  let overcounted = 0;
  let increments = 0;
  const started = performance.now();

  const send = async (path: string, cookie?: string) => {
    try {
      const response = await fetch(baseUrl + path, { headers: cookie ? { cookie } : {}, redirect: 'manual' });
      const body = (await response.json().catch(() => undefined)) as { value?: number } | undefined;
      if (response.status >= 500) serverErrors++;
      if (response.status !== 200) failures++;
      return { ok: response.status === 200, body, setCookie: response.headers.getSetCookie() };
    } catch {
      failures++;
      return { ok: false, body: undefined, setCookie: [] as string[] };
    }
  };

  const client = async (c: number) => {
    const first = await send('/increment?key=counter'); // creates the session
    const cookie = first.setCookie[0]?.split(';')[0];
    if (!first.ok || !cookie) throw new Error(`client ${c}: no session cookie (${JSON.stringify(first.body)})`);
    let answered = 1;
    let next = 1;
    const lane = async () => {
      while (next < requests) {
        const n = next++;
        // Two increments for every read, spread over the lanes so reads overlap writes.
        if (n % 3 === 2) await send('/get?key=counter', cookie);
        else if ((await send('/increment?key=counter', cookie)).ok) answered++;
      }
    };
    await Promise.all(Array.from({ length: parallel }, lane));
    const final = await send('/get?key=counter', cookie);
    const counter = Number(final.body?.value ?? 0);
    increments += answered;
    if (counter < answered) lostUpdates += answered - counter;
    if (counter > answered) overcounted++;
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  return { requests: clients * (requests + 1), increments, serverErrors, failures, lostUpdates, overcounted, seconds: Math.round((performance.now() - started) / 100) / 10 };
}
