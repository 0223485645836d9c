import { describe, expect, it } from 'vitest';
import { SessionManager, ValueError, type SessionManagerOptions } from '../src/index.js';
import { SessionLifecycle } from '../src/http/index.js';
import { TestClient, testSecret } from '../src/testing.js';

const secret = testSecret();
const make = (options: Partial<SessionManagerOptions> = {}) =>
  new SessionManager<Record<string, any>>({ secret, store: 'cookie', cookie: { secure: false }, ...options });

describe("store: 'cookie' (sessions sealed in the cookie)", () => {
  it('keeps data, counters, flash, reflash, now and the CSRF ring, with no store at all', async () => {
    const client = new TestClient(make());
    await client.request((s) => s.put('user', 'ada').increment('n'));
    expect(client.cookie).toMatch(/^sess=[A-Za-z0-9_-]{60,}$/);
    expect(client.cookie).not.toContain('ada'); // sealed, not just signed
    await client.request((s) => s.flash('notice', 'saved').increment('n'));
    expect((await client.request((s) => [s.flash('notice'), s.reflash()][0])).result).toBe('saved');
    expect((await client.request((s) => s.flash('notice'))).result).toBe('saved');
    expect((await client.request((s) => s.flash('notice'))).result).toBeUndefined();
    const { result: token } = await client.request((s) => s.generateToken());
    expect((await client.request((s) => [s.validateToken(token), s.validateToken(token)])).result).toEqual([true, false]);
    expect((await client.request((s) => s.validateToken(token))).result).toBe(false);
    expect((await client.request((s) => s.all())).result).toEqual({ user: 'ada', n: 2 });
  });

  it('regenerates (new id, data dropped unless kept) and destroys (cookie expired)', async () => {
    const client = new TestClient(make());
    const first = await client.request((s) => s.put('cart', ['x']));
    const kept = await client.request((s) => s.regenerateId(true).put('user', 'ada'));
    expect(kept.session.id).not.toBe(first.session.id);
    expect((await client.request((s) => s.all())).result).toEqual({ cart: ['x'], user: 'ada' });
    await client.request((s) => s.regenerateId());
    expect((await client.request((s) => s.all())).result).toEqual({});
    await client.request((s) => s.put('a', 1));
    const gone = await client.request((s) => s.destroy());
    expect(gone.setCookie).toMatch(/Max-Age=0/);
    expect(client.cookie).toBeUndefined();
  });

  it('opens nothing tampered, truncated, moved to another cookie name or sealed with another secret', async () => {
    const manager = make();
    const client = new TestClient(manager);
    await client.request((s) => s.put('role', 'user'));
    const value = client.cookie!.slice('sess='.length);
    const flip = (i: number) => value.slice(0, i) + (value[i] === 'A' ? 'B' : 'A') + value.slice(i + 1);
    const variants = [flip(0), flip(5), flip(Math.floor(value.length / 2)), flip(value.length - 1), value.slice(0, -1), value.slice(1), `${value}A`, '', 'x'.repeat(200)];
    for (const forged of variants) {
      const session = await manager.load(`sess=${forged}`);
      expect(session.isNew).toBe(true);
      expect(session.get('role')).toBeUndefined();
    }
    const renamed = make({ cookie: { name: 'other', secure: false } });
    expect((await renamed.load(`other=${value}`)).isNew).toBe(true);
    const stranger = new SessionManager({ secret: testSecret(), store: 'cookie', cookie: { secure: false } });
    expect((await stranger.load(`sess=${value}`)).isNew).toBe(true);
  });

  it('rotates secrets: a cookie sealed with the old secret opens and is sealed again with the new one', async () => {
    const old = testSecret();
    const client = new TestClient(new SessionManager<Record<string, any>>({ secret: old, store: 'cookie', cookie: { secure: false } }));
    await client.request((s) => s.put('a', 1));
    const rotated = new TestClient(new SessionManager<Record<string, any>>({ secret: [testSecret(), old], store: 'cookie', cookie: { secure: false } }));
    rotated.cookie = client.cookie;
    const { result, setCookie } = await rotated.request((s) => s.get('a'));
    expect(result).toBe(1);
    expect(setCookie).toBeDefined(); // re-sealed with the current secret
  });

  it('enforces both timeouts from the sealed timestamps', async () => {
    let now = 1_000_000;
    const client = new TestClient(make({ clock: () => now, idleTimeout: 60, absoluteTimeout: 300, touchAfter: 0 }));
    await client.request((s) => s.put('a', 1));
    now += 59_000;
    expect((await client.request((s) => s.get('a'))).result).toBe(1); // rolling: re-sealed with a new lastSeen
    now += 59_000;
    expect((await client.request((s) => s.get('a'))).result).toBe(1);
    now += 61_000;
    expect((await client.request((s) => s.get('a'))).result).toBeUndefined(); // idle
    await client.request((s) => s.put('b', 1));
    for (let i = 0; i < 7; i++) {
      now += 50_000;
      await client.request((s) => s.get('b'));
    }
    expect((await client.request((s) => s.get('b'))).result).toBeUndefined(); // absolute, though never idle
  });

  it('refuses a record over the cookie limit at commit with a ValueError, and sends nothing', async () => {
    const client = new TestClient(make());
    await expect(client.request((s) => s.put('big', 'x'.repeat(5000)))).rejects.toMatchObject({ name: 'ValueError', code: 'E_RECORD_TOO_LARGE' });
    expect(client.cookie).toBeUndefined();
    await expect(client.request((s) => s.put('big', 'x'.repeat(5000)))).rejects.toBeInstanceOf(ValueError);
  });

  it('refuses what it cannot do: listing or revoking a user\'s sessions', async () => {
    const manager = make();
    await expect(manager.listSessions('ada')).rejects.toMatchObject({ code: 'E_UNSUPPORTED', message: expect.stringMatching(/store: 'cookie'/) });
    await expect(manager.destroySessions('ada')).rejects.toMatchObject({ code: 'E_UNSUPPORTED' });
  });

  it('works through the request lifecycle with csrf: the token is used in memory and leaves with the next cookie', async () => {
    const manager = make();
    const lifecycle = new SessionLifecycle(manager, { csrf: true });
    const client = new TestClient(manager);
    const { result: token } = await client.request((s) => s.generateToken());
    const request = await lifecycle.begin({ method: 'POST', header: (n) => (n === 'cookie' ? client.cookie : n === 'x-csrf-token' ? token : undefined) });
    const cookie = await request.finish();
    expect(cookie).toBeDefined();
    const replay = lifecycle.begin({ method: 'POST', header: (n) => (n === 'cookie' ? `${cookie!.name}=${cookie!.value}` : n === 'x-csrf-token' ? token : undefined) });
    await expect(replay).rejects.toMatchObject({ code: 'E_CSRF' });
  });
});
