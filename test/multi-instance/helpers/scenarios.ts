/**
 * The checks every backend runs through a fleet of four Express demo processes:
 * exact counters, flash delivered once, sign-out effective everywhere at once.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, read } from './browser.js';
import { startFleet, type Fleet } from './fleet.js';

export const CLIENTS = Number(process.env.SESS_MI_CLIENTS) || 48;
export const REQUESTS = Number(process.env.SESS_MI_REQUESTS) || 98; // per client, after the first
export const PARALLEL = 4; // overlapping requests of one client
const SIGN_INS = 8;
const INSTANCES = 4;

export interface Backend {
  name: string;
  /** What the demo's footer must name (`data-testid="store"`): proves which backend served. */
  storeName: string;
  /** Prepares the backend; returns the demo's environment and a cleanup. */
  open: () => Promise<{ env: Record<string, string>; cleanup: (leftovers: { ids: string[]; users: string[] }) => Promise<void> }>;
}

/** The figures of one backend's run, printed at the end (copied into the README). */
export interface Figures {
  backend: string;
  instances: number;
  /** All requests: through the proxy and straight to one instance. */
  requests: number;
  /** Requests the proxy sent to each instance. */
  perInstance: number[];
  failures: number;
  lostUpdates: number;
  flashShownNot1: number;
  signedOutStillIn: number;
  ms: number;
}

const COOKIE = 'sess-express';

/** `available`: from `await backend.available()` at the top of the test file. */
export function fleetScenarios(backend: Backend, available: boolean) {
  describe(`${backend.name}: ${INSTANCES} Express demo processes behind a round-robin proxy`, () => {
    let fleet: Fleet;
    let cleanup: Awaited<ReturnType<Backend['open']>>['cleanup'] | undefined;
    const browsers: Browser[] = [];
    const users: string[] = [];
    const failures: string[] = [];
    const started = Date.now();
    const sentBefore = Browser.sent;
    const brokenBefore = Browser.broken.length;
    const figures: Figures = {
      backend: backend.name,
      instances: INSTANCES,
      requests: 0,
      perInstance: [],
      failures: 0,
      lostUpdates: 0,
      flashShownNot1: 0,
      signedOutStillIn: 0,
      ms: 0,
    };
    const browser = () => {
      const b = new Browser(fleet.url);
      browsers.push(b);
      return b;
    };
    const user = () => {
      const name = `mi-${randomBytes(6).toString('hex')}`;
      users.push(name);
      return name;
    };
    /** Records any status but the expected one, with the page's title. */
    const expectStatus = (page: { status: number; html: string }, status: number, what: string) => {
      if (page.status !== status) failures.push(`${what}: ${page.status} ${/<title>([^<]*)/.exec(page.html)?.[1] ?? ''}`);
    };
    const signIn = async (b: Browser, name: string, via = '') => {
      const answer = await b.submit(`${via}/sign-in`, `${via}/sign-in`, { username: name, password: 'x' });
      expectStatus(answer, 303, `sign-in ${name}`);
    };

    beforeAll(async () => {
      if (!available) return;
      const opened = await backend.open();
      cleanup = opened.cleanup;
      fleet = await startFleet({ count: INSTANCES, env: opened.env });
    });

    afterAll(async () => {
      if (!available) return;
      figures.requests = Browser.sent - sentBefore;
      figures.perInstance = fleet?.served ?? [];
      figures.failures = failures.length + (fleet?.proxyErrors.length ?? 0) + Browser.broken.length - brokenBefore;
      figures.ms = Date.now() - started;
      console.log(`[multi-instance] ${JSON.stringify(figures)}`);
      await fleet?.stop();
      const ids = browsers.flatMap((b) => {
        const value = b.client.cookies.get(COOKIE);
        return value ? [value.slice(0, value.lastIndexOf('.'))] : [];
      });
      await cleanup?.({ ids, users });
    });

    it.skipIf(!available)(
      `${CLIENTS} clients x ${REQUESTS + 2} visits (${PARALLEL} overlapping), spread over the instances: every counter exact`,
      async () => {
        const clients = Array.from({ length: CLIENTS }, browser);
        const finals = await Promise.all(
          clients.map(async (b) => {
            const first = await b.get('/');
            expectStatus(first, 200, 'first visit');
            expect(/data-testid="store">([^<]*)</.exec(first.html)?.[1]).toBe(backend.storeName);
            for (let sent = 0; sent < REQUESTS; sent += PARALLEL) {
              const wave = await Promise.all(Array.from({ length: Math.min(PARALLEL, REQUESTS - sent) }, () => b.get('/')));
              for (const page of wave) expectStatus(page, 200, 'visit');
            }
            const last = await b.get('/');
            expectStatus(last, 200, 'last visit');
            return read.visits(last.html);
          }),
        );
        const expected = REQUESTS + 2;
        figures.lostUpdates = finals.reduce<number>((lost, n) => lost + (expected - (n ?? 0)), 0);
        expect(failures).toEqual([]);
        expect(fleet.proxyErrors).toEqual([]);
        expect(finals).toEqual(finals.map(() => expected));
        // Round robin really spread the load: every instance served its share.
        for (const n of fleet.served) expect(n).toBeGreaterThan((CLIENTS * expected) / INSTANCES / 2);
      },
    );

    it.skipIf(!available)(
      `sign in ${SIGN_INS} times through the proxy, then view a page on all ${INSTANCES} instances in parallel: the welcome flash shows exactly once`,
      async () => {
        const shown = await Promise.all(
          Array.from({ length: SIGN_INS }, async () => {
            const b = browser();
            const name = user();
            // Through the proxy: the form page and the POST land on different instances.
            await signIn(b, name);
            const views = await Promise.all(fleet.instances.map((i) => b.get(`${i.url}/session`)));
            views.forEach((v) => expectStatus(v, 200, 'view after sign-in'));
            expect(views.map((v) => read.user(v.html))).toEqual(views.map(() => name));
            const after = await b.get('/session');
            return [...views, after].filter((v) => read.flash(v.html, 'success') === `Welcome back, ${name}!`).length;
          }),
        );
        figures.flashShownNot1 += shown.filter((n) => n !== 1).length;
        expect(failures).toEqual([]);
        expect(shown).toEqual(shown.map(() => 1));
      },
    );

    it.skipIf(!available)('sign-out through instance A: the old cookie is signed out on A, B, C and D at once', async () => {
      const [a] = fleet.instances;
      for (let round = 0; round < 4; round++) {
        const b = browser();
        const name = user();
        await signIn(b, name);
        const kept = b.copy(); // the cookie as it was before sign-out
        const before = await Promise.all(fleet.instances.map((i) => kept.get(`${i.url}/session`)));
        expect(before.map((v) => read.user(v.html))).toEqual(before.map(() => name));
        const out = await b.submit(`${a!.url}/session`, `${a!.url}/sign-out`);
        expectStatus(out, 303, 'sign-out');
        const after = await Promise.all(fleet.instances.map((i) => kept.copy().get(`${i.url}/session`)));
        after.forEach((v) => expectStatus(v, 200, 'view after sign-out'));
        const stillIn = after.filter((v) => read.user(v.html) !== undefined).length;
        figures.signedOutStillIn += stillIn;
        expect(stillIn).toBe(0);
        // The browser that signed out gets its one "signed out" message, on any instance.
        const next = await Promise.all(fleet.instances.map((i) => b.get(`${i.url}/session`)));
        expect(next.filter((v) => read.flash(v.html, 'success') === 'You are signed out.').length).toBe(1);
        expect(next.map((v) => read.user(v.html))).toEqual(next.map(() => undefined));
      }
      expect(failures).toEqual([]);
    });

    it.skipIf(!available)(
      '"sign out everywhere else" through one instance signs the other sessions of the user out on every instance',
      async () => {
        const name = user();
        // Four browsers of one user, each signed in through a different instance.
        const devices = fleet.instances.map(() => browser());
        await Promise.all(devices.map((d, i) => signIn(d, name, fleet.instances[i]!.url)));
        const [a] = fleet.instances;
        const [me, ...others] = devices;
        const listed = await me!.get(`${a!.url}/sessions`);
        expect(read.sessionRows(listed.html)).toBe(INSTANCES);
        const done = await me!.submit(`${a!.url}/sessions`, `${a!.url}/sessions/sign-out-others`);
        expectStatus(done, 303, 'sign-out-others');
        // Every other device on every instance, all at once.
        const views = await Promise.all(others.flatMap((d) => fleet.instances.map((i) => d.copy().get(`${i.url}/session`))));
        const stillIn = views.filter((v) => read.user(v.html) !== undefined).length;
        figures.signedOutStillIn += stillIn;
        expect(stillIn).toBe(0);
        // This device stays signed in everywhere, and was told how many went.
        const mine = await me!.get(`${fleet.instances[1]!.url}/sessions`);
        expect(read.flash(mine.html, 'success')).toBe(`Signed out ${INSTANCES - 1} other sessions.`);
        expect(read.sessionRows(mine.html)).toBe(1);
        const everywhere = await Promise.all(fleet.instances.map((i) => me!.get(`${i.url}/session`)));
        expect(everywhere.map((v) => read.user(v.html))).toEqual(everywhere.map(() => name));
        expect(failures).toEqual([]);
      },
    );

    it.skipIf(!available)('no instance logged an error', () => {
      for (const instance of fleet.instances) expect(instance.output()).not.toMatch(/Error|error:/);
    });
  });
}
