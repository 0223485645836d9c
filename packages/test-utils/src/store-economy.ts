/**
 * Store economy: the store calls one request costs, asserted over real HTTP
 * (the table "Store calls per request" in packages/core/README.md). Counts are
 * deterministic, so they belong in the test suite, not only in the bench.
 *
 * An adapter or a store test starts an app with the routes below on the
 * options it is given (a real store wrapped by `countStoreCalls`, a clock the
 * suite moves, the lifecycle's `csrf: true`) and calls `testStoreEconomy`.
 *
 * Routes (GET unless said otherwise; JSON answers):
 * - `/read`           `{ n: session.get('n') ?? null }`
 * - `/look`           reads only: `get`, `has`, `all()`, `flash('notice')`; `{ ok: true }`
 * - `/write`          `{ n: session.increment('n') }`
 * - `/flash`          `session.flash('notice', 'Saved')`, then a 302 redirect to `/show`
 * - `/show`           `{ notice: session.flash('notice') ?? null }`
 * - `/form`           `{ token }`, a new CSRF token (the adapter's csrfToken())
 * - POST `/submit`    form field `_token`; changes nothing; `{ ok: true }`
 * - POST `/submit-change`  form field `_token`; `{ submits: session.increment('submits') }`
 * - `/signin`         `session.regenerateId()` then `put('user', 'ada')`; `{ ok: true }`
 * A urlencoded body must be parsed before the session middleware (the token is
 * used in the load's store write).
 *
 * For the adapters still being built (@sess/fastify, @sess/hono, @sess/fetch):
 * add `packages/<adapter>/test/store-economy.test.ts` that starts these routes
 * on your framework with `session(options)` (options as given, `csrf: true`
 * included) and calls `testStoreEconomy({ name, start })`; see
 * packages/express/test/store-economy.test.ts (about 40 lines). A Fetch-based
 * adapter can serve them through @hono/node-server or node:http. The rows must
 * pass unchanged: a failure is a regression in the adapter, not in the suite.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryStore, type SessionManagerOptions, type Store } from '@sess/core';
import { SessionLifecycle, beginNode } from '@sess/core/http';
import { HttpClient, countStoreCalls } from '@sess/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** What a target's app must pass to its session middleware: the manager's options and the lifecycle's `csrf`. */
export type EconomySessionOptions = SessionManagerOptions & { store: Store; clock: () => number; touchAfter: number; csrf: true };

export interface EconomyServer {
  baseUrl: string;
  close(): Promise<void>;
}

type StoreMethod = 'get' | 'set' | 'update' | 'rotate' | 'destroy';

/** Backend commands (Redis commands, SQL statements) the test can count, and how many one store call costs. */
export interface BackendCounter {
  /** What is counted, for the test names (`Redis commands`, `SQL statements`). */
  what: string;
  reset(): void;
  total(): number;
  /** Commands per store call on the path a sequential request takes (the compare-and-set path of `update`). */
  perCall: Partial<Record<StoreMethod, number>>;
}

export interface StoreEconomyTarget {
  /** The describe block's name: the adapter or the store. */
  name: string;
  /** Starts an app with the routes above, its session on `options`. */
  start(options: EconomySessionOptions): Promise<EconomyServer>;
  /** The real store whose calls are counted (one per suite). @default a MemoryStore */
  store?: () => Store | Promise<Store>;
  /** Backend commands to check against the store calls, where counting them is cheap. */
  backend?: () => BackendCounter | Promise<BackendCounter>;
  /** Skip the suite (a service that is not there). */
  skip?: boolean;
  /** Runs after the suite (close connections, drop tables). */
  cleanup?: () => Promise<void>;
}

/** The secret of the economy apps (tests only). */
export const ECONOMY_SECRET = 'store-economy-secret-0123456789-abcdefghijklmnop';
const TOUCH_AFTER = 60;

/**
 * One `describe` with a test per row of the README's table of store calls per
 * request: each request is sent alone, and the store's calls (and the
 * backend's commands, when counted) during it are asserted.
 */
export function testStoreEconomy(target: StoreEconomyTarget): void {
  describe.skipIf(target.skip)(`store economy: ${target.name}`, () => {
    let now = Date.now();
    let server: EconomyServer;
    let counts: ReturnType<typeof countStoreCalls>['counts'];
    let backend: BackendCounter | undefined;

    beforeAll(async () => {
      const counted = countStoreCalls(await (target.store?.() ?? new MemoryStore({ sweepInterval: 0 })));
      counts = counted.counts;
      server = await target.start({ secret: ECONOMY_SECRET, store: counted.store, clock: () => now, touchAfter: TOUCH_AFTER, cookie: { secure: false }, csrf: true });
      backend = await target.backend?.();
      // Warm up every path once (prepared statements, Redis scripts loaded): counts below are steady-state ones.
      const warm = browser();
      await warm.get('/write');
      await warm.get('/flash');
      await warm.get('/show');
      const { token } = (await (await warm.get('/form')).json()) as { token: string };
      await warm.post('/submit-change', { form: { _token: token } });
      await warm.get('/signin');
    });

    afterAll(async () => {
      await server?.close();
      await target.cleanup?.();
    });

    const browser = () => new HttpClient(server.baseUrl, { 'sec-fetch-site': 'same-origin' });

    /** Sends one request (after `setup`, uncounted) and returns the response and the store calls it cost. */
    async function measured(client: HttpClient, send: () => Promise<Response>) {
      counts.reset();
      backend?.reset();
      const response = await send();
      const body = response.headers.get('content-type')?.includes('json') ? ((await response.json()) as Record<string, unknown>) : await response.text();
      const calls = { ...counts.calls };
      const result = { status: response.status, body, reads: counts.reads(), writes: counts.writes(), calls };
      if (backend) {
        let expected = 0;
        for (const [method, n] of Object.entries(calls)) expected += n * (backend.perCall[method as StoreMethod] ?? 0);
        expect(backend.total(), `${backend.what} for store calls ${JSON.stringify(calls)}`).toBe(expected);
      }
      return result;
    }

    it('new visitor, first write: 0 reads, 1 write (set)', async () => {
      const client = browser();
      const first = await measured(client, () => client.get('/write'));
      expect(first).toMatchObject({ status: 200, body: { n: 1 }, reads: 0, writes: 1, calls: { set: 1 } });
    });

    it('GET, session unchanged: 1 read, 0 writes, request after request', async () => {
      const client = browser();
      await client.get('/write');
      for (let i = 0; i < 3; i++) {
        expect(await measured(client, () => client.get('/read'))).toMatchObject({ status: 200, body: { n: 1 }, reads: 1, writes: 0 });
      }
    });

    it('a request that only looks (get, has, all, flash with nothing pending): no write', async () => {
      const client = browser();
      await client.get('/write');
      const look = await measured(client, () => client.get('/look'));
      expect(look).toMatchObject({ status: 200, reads: 1, writes: 0 });
      expect(look.calls).toEqual({ get: 1 });
    });

    it('GET that changes data: 1 read, 1 write (one atomic update)', async () => {
      const client = browser();
      await client.get('/write');
      expect(await measured(client, () => client.get('/write'))).toMatchObject({ status: 200, body: { n: 2 }, reads: 1, writes: 1, calls: { get: 1, update: 1 } });
    });

    it('flash and redirect: the GET after the redirect costs 1 read, 1 write (the flash taken at load); the next GET no write', async () => {
      const client = browser();
      await client.get('/write');
      const flashed = await measured(client, () => client.get('/flash'));
      expect(flashed).toMatchObject({ status: 302, reads: 1, writes: 1 });
      const shown = await measured(client, () => client.get('/show'));
      expect(shown).toMatchObject({ status: 200, body: { notice: 'Saved' }, reads: 1, writes: 1, calls: { get: 1, update: 1 } });
      const after = await measured(client, () => client.get('/show'));
      expect(after).toMatchObject({ status: 200, body: { notice: null }, reads: 1, writes: 0 });
    });

    it("form POST under the lifecycle's csrf: the token is used in the load's write (1 read, 1 write); with a pending flash still 1 write", async () => {
      const client = browser();
      const { token } = (await (await client.get('/form')).json()) as { token: string };
      const post = await measured(client, () => client.post('/submit', { form: { _token: token } }));
      expect(post).toMatchObject({ status: 200, body: { ok: true }, reads: 1, writes: 1, calls: { get: 1, update: 1 } });
      // The same token again is refused in the load, before the handler runs.
      const replay = await measured(client, () => client.post('/submit', { form: { _token: token } }));
      expect(replay).toMatchObject({ status: 403, reads: 1 });

      await client.get('/flash');
      const { token: second } = (await (await client.get('/form')).json()) as { token: string };
      // /form showed the flash (taken at load): flash again so one is pending for the POST.
      await client.get('/flash');
      const withFlash = await measured(client, () => client.post('/submit', { form: { _token: second } }));
      expect(withFlash).toMatchObject({ status: 200, reads: 1, writes: 1, calls: { get: 1, update: 1 } });
    });

    it('form POST under csrf that also changes the session: 1 read, 2 writes (token at load, change at commit)', async () => {
      const client = browser();
      const { token } = (await (await client.get('/form')).json()) as { token: string };
      const post = await measured(client, () => client.post('/submit-change', { form: { _token: token } }));
      expect(post).toMatchObject({ status: 200, body: { submits: 1 }, reads: 1, writes: 2, calls: { get: 1, update: 2 } });
    });

    it('rolling refresh: at most one write per touchAfter', async () => {
      const client = browser();
      await client.get('/write');
      const start = now;
      try {
        now = start + (TOUCH_AFTER / 2) * 1000;
        expect(await measured(client, () => client.get('/read'))).toMatchObject({ status: 200, reads: 1, writes: 0 });
        now = start + (TOUCH_AFTER + 1) * 1000;
        expect(await measured(client, () => client.get('/read'))).toMatchObject({ status: 200, reads: 1, writes: 1, calls: { get: 1, update: 1 } });
        for (const seconds of [TOUCH_AFTER + 2, TOUCH_AFTER * 1.5, TOUCH_AFTER * 2]) {
          now = start + seconds * 1000;
          expect(await measured(client, () => client.get('/read'))).toMatchObject({ status: 200, reads: 1, writes: 0 });
        }
        now = start + (TOUCH_AFTER * 2 + 2) * 1000;
        expect(await measured(client, () => client.get('/read'))).toMatchObject({ status: 200, body: { n: 1 }, reads: 1, writes: 1 });
      } finally {
        now = Date.now() > now ? Date.now() : now;
      }
    });

    it('sign-in (regenerateId): 1 read, 1 write (rotate)', async () => {
      const client = browser();
      await client.get('/write');
      const signIn = await measured(client, () => client.get('/signin'));
      expect(signIn).toMatchObject({ status: 200, reads: 1, writes: 1, calls: { get: 1, rotate: 1 } });
      expect(await measured(client, () => client.get('/read'))).toMatchObject({ status: 200, body: { n: null }, reads: 1, writes: 0 });
    });
  });
}

/**
 * The economy routes on plain `node:http` through `SessionLifecycle` and the
 * Node binding (what the store packages test with, no framework in between).
 */
export async function startLifecycleEconomyApp(options: EconomySessionOptions): Promise<EconomyServer> {
  const { csrf, ...managerOptions } = options;
  const lifecycle = new SessionLifecycle(managerOptions, { csrf });
  const server = createServer((req, res) => {
    handle(lifecycle, req, res).catch((err: { status?: number }) => {
      if (res.headersSent) return res.destroy();
      res.writeHead(err?.status ?? 500, { 'content-type': 'text/plain' }).end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await lifecycle.manager.close();
    },
  };
}

async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return Object.fromEntries(new URLSearchParams(text));
}

async function handle(lifecycle: SessionLifecycle, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = req.method === 'POST' ? await readForm(req) : undefined;
  const request = await beginNode(lifecycle, req, res, { body });
  const session = request.session as unknown as import('@sess/core').Session<Record<string, any>>;
  const json = (value: unknown): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));
  switch (new URL(req.url ?? '/', 'http://x').pathname) {
    case '/read':
      return json({ n: session.get('n') ?? null });
    case '/look':
      session.get('n');
      session.has('n');
      session.all();
      session.flash('notice');
      return json({ ok: true });
    case '/write':
      return json({ n: session.increment('n') });
    case '/flash':
      session.flash('notice', 'Saved');
      res.writeHead(302, { location: '/show' }).end();
      return;
    case '/show':
      return json({ notice: session.flash('notice') ?? null });
    case '/form':
      return json({ token: request.csrfToken() });
    case '/submit':
      return json({ ok: true });
    case '/submit-change':
      return json({ submits: session.increment('submits') });
    case '/signin':
      session.regenerateId().put('user', 'ada');
      return json({ ok: true });
    default:
      res.writeHead(404).end();
  }
}
