import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { CHANNELS, MemoryStore, SessionManager, type Store } from '../src/index.js';
import type { SessionManagerOptions } from '../src/index.js';
import { SessionLifecycle } from '../src/http/index.js';
import { TestClient, testSecret } from '../src/testing.js';

const events: Array<{ channel: string; event: Record<string, unknown> }> = [];
const listeners = Object.values(CHANNELS).map((name) => {
  const listener = (event: unknown) => void events.push({ channel: name, event: event as Record<string, unknown> });
  return { name, listener };
});
const listen = () => listeners.forEach(({ name, listener }) => subscribe(name, listener));
afterEach(() => {
  listeners.forEach(({ name, listener }) => unsubscribe(name, listener));
  events.length = 0;
});
const of = (channel: string) => events.filter((e) => e.channel === channel).map((e) => e.event);

function setup(options: Partial<SessionManagerOptions> = {}) {
  const manager = new SessionManager({ secret: testSecret(), store: new MemoryStore({ sweepInterval: 0 }), cookie: { secure: false }, ...options });
  return { manager, client: new TestClient(manager) };
}

describe('diagnostics_channel events', () => {
  it('publishes load, commit and each store call with its duration and outcome', async () => {
    const { client } = setup();
    listen();
    const first = await client.request((s) => s.put('secret-value', 'do-not-leak'));
    await client.request((s) => s.get('secret-value'));
    expect(of('sess:load').map((e) => e.outcome)).toEqual(['new', 'loaded']);
    expect(of('sess:commit').map((e) => e.outcome)).toEqual(['created', 'unchanged']);
    expect(of('sess:store')).toEqual([
      expect.objectContaining({ method: 'set', outcome: 'ok', idPrefix: first.session.id.slice(0, 8) }),
      expect.objectContaining({ method: 'get', outcome: 'ok' }),
    ]);
    for (const e of of('sess:store')) expect(typeof e.durationMs).toBe('number');
    // Never session data, never a whole id.
    const text = JSON.stringify(events);
    expect(text).not.toContain('do-not-leak');
    expect(text).not.toContain('secret-value');
    expect(text).not.toContain(first.session.id);
  });

  it('publishes regenerate, destroy, timeouts, store failures and CSRF refusals', async () => {
    let now = 1_000_000;
    const inner = new MemoryStore({ sweepInterval: 0 }); // the store keeps real time: the manager sees the timeout first
    let down = false;
    const store: Store = {
      get: (id) => (down ? Promise.reject(new Error('ECONNREFUSED')) : inner.get(id)),
      set: (...a) => inner.set(...a),
      destroy: (...a) => inner.destroy(...a),
      update: (...a) => inner.update(...a),
      rotate: (...a) => inner.rotate(...a),
    };
    const { manager, client } = setup({ store, clock: () => now, idleTimeout: 60 });
    await client.request((s) => s.put('a', 1));
    listen();
    await client.request((s) => s.regenerateId(true));
    expect(of('sess:regenerate')).toEqual([expect.objectContaining({ outcome: 'rotated' })]);
    await client.request((s) => s.destroy());
    expect(of('sess:destroy')).toEqual([expect.objectContaining({ reason: 'destroy' })]);
    await client.request((s) => s.put('b', 1));
    now += 61_000;
    await client.request((s) => s.get('b'));
    expect(of('sess:timeout')).toEqual([expect.objectContaining({ kind: 'idle' })]);
    expect(of('sess:load').at(-1)).toMatchObject({ outcome: 'expired' });
    await client.request((s) => s.put('c', 1));
    down = true;
    await expect(client.request((s) => s.get('c'))).rejects.toMatchObject({ code: 'E_STORE' });
    expect(of('sess:store').at(-1)).toMatchObject({ method: 'get', outcome: 'error', code: 'E_STORE' });
    down = false;
    const lifecycle = new SessionLifecycle(manager, { csrf: true });
    await expect(lifecycle.begin({ method: 'post', header: () => undefined })).rejects.toMatchObject({ code: 'E_CSRF' });
    expect(of('sess:csrf')).toEqual([{ reason: 'missing-token', method: 'POST' }]);
  });

  it('costs nothing observable when nobody listens: no events, same results', async () => {
    const { client } = setup();
    const { result } = await client.request((s) => s.increment('n'));
    expect(result).toBe(1);
    expect(events).toEqual([]);
  });
});
