/**
 * The adapter conformance suite (`testAdapter`, from `@sess/core/testing`):
 * every adapter runs it over real HTTP against the real framework, and an
 * adapter written outside this repository can prove itself with it.
 *
 * @example
 * testAdapter({
 *   name: 'express 5',
 *   start: async (store) => { const server = makeApp(store).listen(0, '127.0.0.1'); ...; return { baseUrl, close } },
 * });
 *
 * `start(store)` builds the app with a `SessionManager` over the given `store`
 * (the suite slows it down and takes it down at will; an app in another process
 * may ignore it and return `setStoreDown` instead) and listens on 127.0.0.1.
 * The app must implement these routes. Query values are plain strings; every
 * answer is JSON unless said otherwise.
 *
 * | route | does | answers |
 * |---|---|---|
 * | GET /put?key=&value= | `session.put(key, value)` | `{ ok: true }` |
 * | GET /get?key= | | `{ value: session.get(key) ?? null, has: session.has(key) }` |
 * | GET /remove?key= | `session.remove(key)` | `{ ok: true }` |
 * | GET /all | | `{ all: session.all() }` |
 * | GET /clear | `session.clear()` | `{ ok: true }` |
 * | GET /flash?a=1&b=2 | `session.flash(k, v)` for every query pair | 302 to `/all` |
 * | GET /reflash[?keys=a,b] | `session.reflash(keys?.split(','))` | `{ all: session.all() }` |
 * | GET /now?key=&value= | `session.now(key, value)` | `{ all: session.all() }` |
 * | GET /increment?key=[&by=] | | `{ value: session.increment(key, Number(by ?? 1)) }` |
 * | GET /tokens?count= | `count` × `session.generateToken()` | `{ tokens: string[] }` |
 * | GET /validate?tokens=a,b | `session.validateToken(t)` for each | `{ valid: boolean[] }` |
 * | GET /regenerate[?keep=1] | `session.regenerateId(keep === '1')` | `{ ok: true }` |
 * | GET /destroy | `session.destroy()` | `{ ok: true }` |
 * | GET /race?value= | `session.put('race', value)` | 302 to `/get?key=race` |
 * | GET /answer-then-fail | `session.put('thrown', 'yes')`, answers `{ ok: true }` with the framework's usual helper, then fails the framework's usual way (Express: `throw`/`next(err)` after `res.json`, behind an error middleware that answers 500 unless `res.headersSent`) | whatever the framework does: must stay well-formed |
 * | GET /redirect-with-cookie | `session.put('via', 'head')`, then 302 to `/get?key=via` with an extra `Set-Cookie: theme=dark; Path=/` given in the lowest-level call (Node: `res.writeHead(302, { Location, 'Set-Cookie' })`; Fetch: the Response's headers) | 302 |
 * | GET /signin?user= | `session.regenerateId()`, `session.put('user', user)`, then the framework's redirect helper to `/get?key=user` | 302 |
 * | GET /signout | `session.destroy()`, then the framework's redirect helper to `/get?key=user` | 302 |
 * | GET /fail-after-change | `session.put('failed', 'yes')`, then fails through the framework's error path without answering | 500 |
 * | GET /csrf/token | (behind `csrf()`) | `{ token: <the adapter's csrfToken helper>() }` |
 * | POST /csrf/submit | (behind `csrf()`, after a urlencoded body parser) `session.increment('submits')` | `{ submits }` |
 *
 * Use the default SessionManager options but `cookie: { secure: false }` (plain
 * HTTP here).
 *
 * Errors go through the framework's error path: a `SessionError` answers its
 * `.status` (403 for CSRF, 503 for the store).
 */
import { describe, expect, it, afterAll, beforeAll } from 'vitest';
import { MemoryStore } from './memory-store.js';
import type { SessionChange, SessionRecord, Store, UpdateResult, VersionedRecord } from './types.js';
import { HttpClient } from './http-client.js';

export interface ScenarioServer {
  baseUrl: string;
  close(): Promise<void>;
  /** Headers every client of the suite sends (to route the suite to one part of an app). */
  headers?: Record<string, string>;
  /** Only for an app that cannot use the store handed to `start` (another process). */
  setStoreDown?(down: boolean): void | Promise<void>;
}

export interface ScenarioTarget {
  /** Shown in the test names: `express 5`, `koa 2`. */
  name: string;
  start(store: Store): Promise<ScenarioServer>;
  /** The adapter's default `commitOnError` (false for every sess adapter). @default false */
  commitOnError?: boolean;
  /**
   * The app keeps sessions in sealed cookies (`store: 'cookie'`): the cases
   * that need a store (revoking an old cookie, a store outage, a token used
   * once across overlapping requests) are skipped.
   * @default false
   */
  storeless?: boolean;
}

/** A MemoryStore wrapper that can be slowed (every call waits `latencyMs`) and taken down. */
export class ControlledStore implements Store {
  latencyMs = 0;
  down = false;
  readonly inner = new MemoryStore();
  /** The message of the error a downed store throws: it names a path, as a real driver's would. */
  static readonly DOWN_MESSAGE = 'connect ENOENT /var/run/secret-sess-backend.sock (the test took the store down)';

  async #gate(): Promise<void> {
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    if (this.down) throw new Error(ControlledStore.DOWN_MESSAGE);
  }
  async get(id: string) {
    await this.#gate();
    return this.inner.get(id);
  }
  async set(id: string, record: SessionRecord, ttl: number) {
    await this.#gate();
    return this.inner.set(id, record, ttl);
  }
  async destroy(id: string) {
    await this.#gate();
    return this.inner.destroy(id);
  }
  async update(id: string, change: SessionChange, ttl: number, expected?: VersionedRecord): Promise<UpdateResult> {
    await this.#gate();
    return this.inner.update(id, change, ttl, expected);
  }
  async rotate(oldId: string, newId: string, change: SessionChange, ttl: number, expected?: VersionedRecord): Promise<UpdateResult> {
    await this.#gate();
    return this.inner.rotate(oldId, newId, change, ttl, expected);
  }
  listByUser(userId: string) {
    return this.inner.listByUser(userId);
  }
  destroyByUser(userId: string, exceptId?: string) {
    return this.inner.destroyByUser(userId, exceptId);
  }
}

export function testAdapter(target: ScenarioTarget): void {
  describe(`${target.name}: adapter conformance`, () => {
    /** A case that needs a server-side store. */
    const withStore = target.storeless ? it.skip : it;
    const store = new ControlledStore();
    let server: ScenarioServer;
    const browser = () => new HttpClient(server.baseUrl, server.headers);
    const json = async (response: Response): Promise<Record<string, any>> => {
      expect(response.status, `${response.url} answered ${response.status}`).toBe(200);
      return (await response.json()) as Record<string, any>;
    };
    const setDown = async (down: boolean) => {
      store.down = down;
      await server.setStoreDown?.(down);
    };

    beforeAll(async () => {
      server = await target.start(store);
    });
    afterAll(async () => {
      await server?.close();
    });

    it('puts, gets, checks and removes values', async () => {
      const b = browser();
      expect(await json(await b.get('/put?key=name&value=Ada'))).toEqual({ ok: true });
      expect(await json(await b.get('/get?key=name'))).toEqual({ value: 'Ada', has: true });
      expect(await json(await b.get('/get?key=missing'))).toEqual({ value: null, has: false });
      await json(await b.get('/remove?key=name'));
      expect(await json(await b.get('/get?key=name'))).toEqual({ value: null, has: false });
    });

    it('lists all values and clears them, keeping the session id', async () => {
      const b = browser();
      await json(await b.get('/put?key=a&value=1'));
      await json(await b.get('/put?key=b&value=2'));
      expect((await json(await b.get('/all'))).all).toEqual({ a: '1', b: '2' });
      const cookie = [...b.cookies.values()][0];
      await json(await b.get('/clear'));
      expect((await json(await b.get('/all'))).all).toEqual({});
      // The same id: the same cookie (in cookie mode the cookie carries the record, so it changes).
      if (!target.storeless) expect([...b.cookies.values()][0]).toBe(cookie);
      await json(await b.get('/put?key=c&value=3'));
      expect((await json(await b.get('/all'))).all).toEqual({ c: '3' });
    });

    it('sends no cookie for a session that holds nothing', async () => {
      const response = await browser().get('/all');
      expect(await json(response)).toEqual({ all: {} });
      expect(response.headers.getSetCookie()).toEqual([]);
    });

    it('never adopts an id the client chose', async () => {
      const b = browser();
      await json(await b.get('/put?key=a&value=1'));
      const [name, value] = [...b.cookies][0]!;
      const forged = browser();
      const [id, signature] = value.split('.');
      // A known-looking id with a bad signature: never the real id (which may itself end in "AA").
      const forgedId = `${id!.slice(0, -2)}${id!.endsWith('AA') ? 'EA' : 'AA'}`;
      forged.cookies.set(name, `${forgedId}.${signature}`);
      await json(await forged.get('/put?key=b&value=2'));
      expect(forged.cookies.get(name)!.split('.')[0]).not.toBe(forgedId);
      expect((await json(await forged.get('/all'))).all).toEqual({ b: '2' });
      expect((await json(await b.get('/all'))).all).toEqual({ a: '1' });
    });

    it('keeps two browsers apart', async () => {
      const one = browser();
      const two = browser();
      await json(await one.get('/put?key=who&value=one'));
      await json(await two.get('/put?key=who&value=two'));
      expect((await json(await one.get('/get?key=who'))).value).toBe('one');
      expect((await json(await two.get('/get?key=who'))).value).toBe('two');
    });

    it('shows a flash message after the redirect, once, then never again', async () => {
      const b = browser();
      const redirect = await b.get('/flash?success=Saved');
      expect(redirect.status).toBe(302);
      expect(redirect.headers.get('location')).toMatch(/\/all$/);
      expect((await json(await b.get('/all'))).all).toEqual({ success: 'Saved' });
      expect((await json(await b.get('/all'))).all).toEqual({});
      expect(await json(await b.get('/get?key=success'))).toEqual({ value: null, has: false });
    });

    it('reflashes all flash values for one more request', async () => {
      const b = browser();
      expect((await b.get('/flash?a=1&b=2')).status).toBe(302);
      expect((await json(await b.get('/reflash'))).all).toEqual({ a: '1', b: '2' });
      expect((await json(await b.get('/all'))).all).toEqual({ a: '1', b: '2' });
      expect((await json(await b.get('/all'))).all).toEqual({});
    });

    it('reflashes only the named flash values', async () => {
      const b = browser();
      expect((await b.get('/flash?a=1&b=2')).status).toBe(302);
      expect((await json(await b.get('/reflash?keys=a'))).all).toEqual({ a: '1', b: '2' });
      expect((await json(await b.get('/all'))).all).toEqual({ a: '1' });
      expect((await json(await b.get('/all'))).all).toEqual({});
    });

    it('shows a now() value in this request only', async () => {
      const b = browser();
      await json(await b.get('/put?key=kept&value=yes'));
      expect((await json(await b.get('/now?key=notice&value=preview'))).all).toEqual({ kept: 'yes', notice: 'preview' });
      expect((await json(await b.get('/all'))).all).toEqual({ kept: 'yes' });
    });

    it('increments a counter across requests', async () => {
      const b = browser();
      expect((await json(await b.get('/increment?key=visits'))).value).toBe(1);
      expect((await json(await b.get('/increment?key=visits&by=5'))).value).toBe(6);
      expect((await json(await b.get('/get?key=visits'))).value).toBe(6);
    });

    it('keeps the newest 20 of 21 tokens, each valid once', async () => {
      const b = browser();
      const { tokens } = await json(await b.get('/tokens?count=21'));
      expect(tokens).toHaveLength(21);
      expect(new Set(tokens).size).toBe(21);
      const first = await json(await b.get(`/validate?tokens=${tokens.join(',')}`));
      expect(first.valid).toEqual([false, ...Array(20).fill(true)]);
      const again = await json(await b.get(`/validate?tokens=${tokens.join(',')}`));
      expect(again.valid).toEqual(Array(21).fill(false));
    });

    withStore('regenerates the id without data: the old cookie gives a fresh empty session', async () => {
      const b = browser();
      await json(await b.get('/put?key=secret&value=s1'));
      const old = b.clone();
      const oldCookie = [...b.cookies.values()][0];
      await json(await b.get('/regenerate'));
      expect([...b.cookies.values()][0]).not.toBe(oldCookie);
      expect((await json(await b.get('/all'))).all).toEqual({});
      await json(await b.get('/put?key=after&value=1'));
      expect((await json(await b.get('/all'))).all).toEqual({ after: '1' });
      expect((await json(await old.get('/all'))).all).toEqual({});
    });

    withStore('regenerates the id keeping the data: the old cookie gives a fresh empty session', async () => {
      const b = browser();
      await json(await b.get('/put?key=cart&value=3'));
      const old = b.clone();
      const oldCookie = [...b.cookies.values()][0];
      await json(await b.get('/regenerate?keep=1'));
      const newCookie = [...b.cookies.values()][0];
      expect(newCookie).toBeDefined();
      expect(newCookie).not.toBe(oldCookie);
      expect((await json(await b.get('/all'))).all).toEqual({ cart: '3' });
      expect((await json(await old.get('/all'))).all).toEqual({});
      await json(await old.get('/put?key=x&value=1'));
      expect((await json(await b.get('/all'))).all).toEqual({ cart: '3' });
    });

    withStore('destroys the session: the cookie expires and the old cookie is useless', async () => {
      const b = browser();
      await json(await b.get('/put?key=user&value=42'));
      const old = b.clone();
      const response = await b.get('/destroy');
      await json(response);
      const expired = response.headers.getSetCookie();
      expect(expired).toHaveLength(1);
      expect(expired[0]).toMatch(/max-age=0/i);
      expect(b.cookies.size).toBe(0);
      expect((await json(await old.get('/all'))).all).toEqual({});
      expect((await json(await b.get('/all'))).all).toEqual({});
    });

    withStore('answers 503 while the store is down, never a fresh session, and recovers', async () => {
      const b = browser();
      await json(await b.get('/put?key=keep&value=me'));
      const fresh = browser();
      await setDown(true);
      try {
        const load = await b.get('/all'); // the store is read at load
        expect(load.status).toBe(503);
        expect(load.headers.getSetCookie()).toEqual([]);
        const commit = await fresh.get('/put?key=a&value=1'); // a new session is written at commit
        expect(commit.status).toBe(503);
        expect(await commit.text()).not.toContain('"ok"');
        expect(commit.headers.getSetCookie()).toEqual([]);
      } finally {
        await setDown(false);
      }
      expect((await json(await b.get('/all'))).all).toEqual({ keep: 'me' });
    });

    describe('CSRF', () => {
      const tokenFor = async (b: HttpClient): Promise<string> => (await json(await b.get('/csrf/token'))).token as string;
      const submits = async (b: HttpClient) => (await json(await b.get('/get?key=submits'))).value ?? 0;

      it('refuses a missing, unknown or query-string token with 403, and the handler does not run', async () => {
        const b = browser();
        await tokenFor(b);
        expect((await b.post('/csrf/submit', { form: {} })).status).toBe(403);
        expect((await b.post('/csrf/submit', { form: { _token: 'A'.repeat(43) } })).status).toBe(403);
        expect((await b.post('/csrf/submit', { headers: { 'x-csrf-token': 'not-a-token' } })).status).toBe(403);
        const token = await tokenFor(b);
        expect((await b.post(`/csrf/submit?_token=${token}`, { form: {} })).status).toBe(403);
        expect(await submits(b)).toBe(0);
      });

      it('lets a valid token pass once, in the form field or the header', async () => {
        const b = browser();
        const token = await tokenFor(b);
        const ok = await b.post('/csrf/submit', { form: { _token: token } });
        expect(await json(ok)).toEqual({ submits: 1 });
        expect(ok.headers.get('vary')).toMatch(/Sec-Fetch-Site/i);
        expect(ok.headers.get('vary')).toMatch(/Origin/i);
        expect((await b.post('/csrf/submit', { form: { _token: token } })).status).toBe(403);
        const viaHeader = await tokenFor(b);
        expect(await json(await b.post('/csrf/submit', { headers: { 'x-csrf-token': viaHeader } }))).toEqual({ submits: 2 });
        expect((await b.post('/csrf/submit', { headers: { 'x-csrf-token': viaHeader } })).status).toBe(403);
        expect(await submits(b)).toBe(2);
      });

      withStore('lets exactly one of two overlapping POSTs with one token pass', async () => {
        const b = browser();
        const token = await tokenFor(b);
        store.latencyMs = 20;
        try {
          const statuses = (await Promise.all([0, 1].map(() => b.post('/csrf/submit', { form: { _token: token } })))).map((r) => r.status);
          expect(statuses.sort()).toEqual([200, 403]);
        } finally {
          store.latencyMs = 0;
        }
        expect(await submits(b)).toBe(1);
      });

      it('refuses a cross-site request even with a valid token, and accepts same-origin', async () => {
        const b = browser();
        const token = await tokenFor(b);
        const cross = await b.post('/csrf/submit', { form: { _token: token }, headers: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' } });
        expect(cross.status).toBe(403);
        expect(await submits(b)).toBe(0);
        const same = await b.post('/csrf/submit', { form: { _token: token }, headers: { 'sec-fetch-site': 'same-origin', origin: new URL(server.baseUrl).origin } });
        expect(await json(same)).toEqual({ submits: 1 });
      });

      it('checks Origin against the host when Sec-Fetch-Site is absent', async () => {
        const b = browser();
        const token = await tokenFor(b);
        expect((await b.post('/csrf/submit', { form: { _token: token }, headers: { origin: 'https://evil.example' } })).status).toBe(403);
        expect(await submits(b)).toBe(0);
        const same = await b.post('/csrf/submit', { form: { _token: token }, headers: { origin: new URL(server.baseUrl).origin } });
        expect(await json(same)).toEqual({ submits: 1 });
      });
    });

    describe('where users enter: ordinary application code', () => {
      it('an error after the answer never crashes the server nor sends a malformed response (slow store, 10 times)', async () => {
        const b = browser();
        store.latencyMs = 50;
        try {
          for (let i = 0; i < 10; i++) {
            const response = await b.get('/answer-then-fail');
            const text = await response.text();
            if (response.status === 200) expect(JSON.parse(text)).toEqual({ ok: true });
            else expect(response.status).toBeGreaterThanOrEqual(500);
            expect(text).not.toContain('at ');
          }
        } finally {
          store.latencyMs = 0;
        }
        // The process is alive and serving.
        expect(await json(await browser().get('/all'))).toEqual({ all: {} });
      });

      it('a Set-Cookie given with the response head keeps the session cookie beside it', async () => {
        const b = browser();
        const response = await b.get('/redirect-with-cookie');
        expect(response.status).toBe(302);
        const names = response.headers.getSetCookie().map((c) => c.split('=')[0]);
        expect(names).toContain('theme');
        expect(names.filter((n) => n !== 'theme')).toHaveLength(1);
        expect(await json(await b.get(response.headers.get('location')!))).toEqual({ value: 'head', has: true });
      });

      withStore('sign-in and sign-out through the framework\'s redirect take effect', async () => {
        const b = browser();
        await json(await b.get('/put?key=before&value=1'));
        const anonymous = b.clone();
        const signIn = await b.get('/signin?user=ada');
        expect([302, 303, 307]).toContain(signIn.status);
        expect(signIn.headers.getSetCookie()).toHaveLength(1);
        expect(await json(await b.get(signIn.headers.get('location')!))).toEqual({ value: 'ada', has: true });
        expect((await json(await anonymous.get('/all'))).all).toEqual({}); // the old id is gone
        const signedIn = b.clone();
        const signOut = await b.get('/signout');
        expect([302, 303, 307]).toContain(signOut.status);
        expect(signOut.headers.getSetCookie().join()).toMatch(/max-age=0/i);
        expect(b.cookies.size).toBe(0);
        expect(await json(await signedIn.get('/get?key=user'))).toEqual({ value: null, has: false });
      });

      (target.storeless ? it : it.skip)('cookie mode: sign-in gives a new sealed cookie and sign-out expires it', async () => {
        const b = browser();
        await json(await b.get('/put?key=before&value=1'));
        const before = [...b.cookies.values()][0];
        const signIn = await b.get('/signin?user=ada');
        expect([302, 303, 307]).toContain(signIn.status);
        expect([...b.cookies.values()][0]).not.toBe(before);
        expect(await json(await b.get(signIn.headers.get('location')!))).toEqual({ value: 'ada', has: true });
        const signOut = await b.get('/signout');
        expect(signOut.headers.getSetCookie().join()).toMatch(/max-age=0/i);
        expect(b.cookies.size).toBe(0);
        expect(await json(await b.get('/get?key=user'))).toEqual({ value: null, has: false });
      });

      it(target.commitOnError ? 'a failed request commits its change (commitOnError)' : 'a failed request commits none of its changes (commitOnError off)', async () => {
        const b = browser();
        await json(await b.get('/put?key=kept&value=1'));
        const failed = await b.get('/fail-after-change');
        expect(failed.status).toBeGreaterThanOrEqual(500);
        expect(await failed.text()).not.toContain('at ');
        const after = await json(await b.get('/get?key=failed'));
        expect(after).toEqual(target.commitOnError ? { value: 'yes', has: true } : { value: null, has: false });
        expect(await json(await b.get('/get?key=kept'))).toEqual({ value: '1', has: true });
      });

      withStore('a store failure at commit answers a body without internal detail', async () => {
        const fresh = browser();
        await setDown(true);
        try {
          const response = await fresh.get('/put?key=a&value=1');
          expect(response.status).toBe(503);
          const body = await response.text();
          expect(body).not.toContain('secret-sess');
          expect(body).not.toContain('ENOENT');
        } finally {
          await setDown(false);
        }
      });
    });

    it('commits before the redirect goes out: the very next request sees the value (50 times, slow store)', async () => {
      const b = browser();
      store.latencyMs = 20;
      try {
        for (let i = 0; i < 50; i++) {
          const redirect = await b.get(`/race?value=v${i}`);
          expect(redirect.status).toBe(302);
          const location = redirect.headers.get('location')!;
          expect(location).toMatch(/\/get\?key=race$/);
          expect((await json(await b.get(location))).value).toBe(`v${i}`);
        }
      } finally {
        store.latencyMs = 0;
      }
    });
  });
}

/** The suite under its first name. */
export const testScenarios = testAdapter;
