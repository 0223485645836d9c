/**
 * A store that hangs: every call it never answers ends, after `storeTimeout`,
 * in a StoreError (E_STORE_TIMEOUT) and, through HTTP, a 503 within the bound.
 */
import { MemoryStore, SessionManager, StoreError, type SessionChange, type SessionRecord, type Store, type VersionedRecord } from '@sess/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cookieOf, round, send, SECRET, startServer, type TestServer } from './helpers/app.js';
import { Figures } from './helpers/figures.js';

const figures = new Figures('faults-timeout', 'Fault: a store that hangs');
const BOUND = 300;

/** MemoryStore whose chosen methods never answer while `hanging` names them. */
class HangingStore implements Store {
  readonly inner = new MemoryStore();
  hanging = new Set<string>();
  #gate<T>(method: string, run: () => Promise<T>): Promise<T> {
    return this.hanging.has(method) ? new Promise<T>(() => {}) : run();
  }
  get(id: string) {
    return this.#gate('get', () => this.inner.get(id));
  }
  set(id: string, r: SessionRecord, ttl: number) {
    return this.#gate('set', () => this.inner.set(id, r, ttl));
  }
  destroy(id: string) {
    return this.#gate('destroy', () => this.inner.destroy(id));
  }
  update(id: string, c: SessionChange, ttl: number, expected?: VersionedRecord) {
    return this.#gate('update', () => this.inner.update(id, c, ttl, expected));
  }
  rotate(oldId: string, newId: string, c: SessionChange, ttl: number, expected?: VersionedRecord) {
    return this.#gate('rotate', () => this.inner.rotate(oldId, newId, c, ttl, expected));
  }
}

describe('a hanging store', () => {
  const store = new HangingStore();
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(store, { storeTimeout: BOUND });
  });
  afterAll(() => server?.close());

  it('load and commit reject with StoreError E_STORE_TIMEOUT after storeTimeout', async () => {
    const manager = new SessionManager({ secret: SECRET, store, storeTimeout: BOUND, cookie: { secure: false } });
    const s = await manager.load(undefined);
    s.put('a', 1);
    const cookie = (await manager.commit(s))!.split(';')[0];
    store.hanging = new Set(['get']);
    let t = performance.now();
    const loadError = await manager.load(cookie).catch((e) => e);
    const loadMs = performance.now() - t;
    store.hanging = new Set(['update']);
    const loaded = await manager.load(cookie);
    loaded.put('b', 2);
    t = performance.now();
    const commitError = await manager.commit(loaded).catch((e) => e);
    const commitMs = performance.now() - t;
    store.hanging.clear();
    figures.record('manager: load and commit', { storeTimeoutMs: BOUND, loadErrorCode: loadError.code, loadMs: round(loadMs), commitErrorCode: commitError.code, commitMs: round(commitMs) });
    for (const [err, ms] of [[loadError, loadMs], [commitError, commitMs]] as const) {
      expect(err).toBeInstanceOf(StoreError);
      expect(err.code).toBe('E_STORE_TIMEOUT');
      expect(err.message).toMatch(/^\[sess\] the session store did not .* within 300 ms/);
      expect(ms).toBeGreaterThanOrEqual(BOUND - 5);
      expect(ms).toBeLessThan(BOUND + 400);
    }
  });

  for (const [what, methods, path] of [
    ['a read (load)', ['get'], '/all'],
    ['a write (commit)', ['update'], '/put?key=x&value=1'],
    ['a new session write', ['set'], '/put?key=x&value=1'],
    ['every call', ['get', 'set', 'update', 'rotate', 'destroy'], '/put?key=x&value=1'],
  ] as const) {
    it(`through HTTP, ${what} that hangs gives 503 within the bound, for 50 overlapping requests`, async () => {
      const first = await send(server.baseUrl, '/put?key=seed&value=1');
      const cookie = what === 'a new session write' ? undefined : cookieOf(first.setCookie);
      store.hanging = new Set(methods);
      const answers = await Promise.all(Array.from({ length: 50 }, () => send(server.baseUrl, path, { cookie, timeoutMs: 5000 })));
      store.hanging.clear();
      const statuses = [...new Set(answers.map((a) => a.status))];
      const worst = Math.max(...answers.map((a) => a.ms));
      figures.record(`http: ${what} hangs`, { requests: 50, statuses: statuses.join(' '), worstMs: round(worst), storeTimeoutMs: BOUND });
      expect(statuses).toEqual([503]);
      expect(worst).toBeLessThan(BOUND + 700);
      // And the app answers normally once the store does.
      expect((await send(server.baseUrl, '/all', { cookie })).status).toBe(200);
    });
  }
});
