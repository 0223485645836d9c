/**
 * Security checks through a real Express server on real stores: fixation,
 * regenerate, destroy, server-side timeouts, id quality, cookie defaults,
 * CSRF source rules and secret length.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { ConfigError, SessionManager } from '@sess/core';
import { session } from '@sess/express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cookieOf, SECRET, send, startServer, type TestServer } from './helpers/app.js';
import { BACKENDS, backend, type OpenBackend } from './helpers/backends.js';
import { Figures } from './helpers/figures.js';

const figures = new Figures('security', 'Security checks');
const only = process.env.SESS_REL_BACKENDS?.split(',');
const OLD_SECRET = 'an-old-secret-that-was-removed-0123456789abcdef';

for (const b of BACKENDS.filter((x) => !only || only.includes(x.name))) {
  describe.skipIf(!(await b.available()))(`${b.name}: fixation, regenerate, destroy, timeouts`, () => {
    let open: OpenBackend;
    let server: TestServer;
    let clock = Date.now();
    const row: Record<string, string | number> = {};
    beforeAll(async () => {
      open = await b.open();
      server = await startServer(open.store, { clock: () => clock, idleTimeout: 60, absoluteTimeout: 300 });
    });
    afterAll(async () => {
      figures.record(b.name, row);
      await server?.close();
      await open?.close();
    });

    it('never adopts a client-chosen id: unsigned, signed with a removed secret, or planted before login', async () => {
      const chosen = randomBytes(32).toString('base64url');
      const unsigned = await send(server.baseUrl, '/put?key=a&value=1', { cookie: `sess=${chosen}.${'A'.repeat(43)}` });
      expect(cookieOf(unsigned.setCookie)).not.toContain(chosen);

      // A session that was real under an old secret, since removed from the list.
      const old = new SessionManager({ secret: OLD_SECRET, store: open.store, cookie: { secure: false } });
      const s = await old.load(undefined);
      s.put('user', 'victim');
      const oldCookie = (await old.commit(s))!.split(';')[0]!;
      const withOld = await send(server.baseUrl, '/all', { cookie: oldCookie });
      expect(withOld.body.isNew).toBe(true);
      expect(withOld.body.id).not.toBe(s.id);
      const write = await send(server.baseUrl, '/put?key=a&value=1', { cookie: oldCookie });
      expect(cookieOf(write.setCookie)).not.toContain(s.id);

      // The attacker's own real session, planted in the victim's browser, is left behind at login.
      const planted = await send(server.baseUrl, '/put?key=a&value=1');
      const attacker = cookieOf(planted.setCookie)!;
      const login = await send(server.baseUrl, '/login?user=victim', { cookie: attacker });
      const victim = cookieOf(login.setCookie)!;
      expect(victim).not.toBe(attacker);
      expect((await send(server.baseUrl, '/all', { cookie: victim })).body.all.user).toBe('victim');
      const attackerView = await send(server.baseUrl, '/all', { cookie: attacker });
      expect(attackerView.body.isNew).toBe(true);
      expect(attackerView.body.all).toEqual({});
      row.fixation = 'refused';
    });

    it('regenerate on privilege change deletes the old record; destroy expires the cookie and deletes the record', async () => {
      const first = await send(server.baseUrl, '/put?key=cart&value=3');
      const cookie = cookieOf(first.setCookie)!;
      const oldId = first.body.id;
      const login = await send(server.baseUrl, '/login', { cookie });
      expect(login.body.id).not.toBe(oldId);
      expect(await open.store.get(oldId)).toBeUndefined();
      const newRecord = await open.store.get(login.body.id);
      expect(newRecord?.record.data).toMatchObject({ cart: '3', user: 'alice' });

      const newCookie = cookieOf(login.setCookie)!;
      const out = await send(server.baseUrl, '/signout', { cookie: newCookie });
      const expired = out.setCookie.find((c) => c.startsWith('sess='))!;
      expect(expired).toMatch(/^sess=;/);
      expect(expired).toMatch(/Max-Age=0/);
      expect(expired).toMatch(/Expires=Thu, 01 Jan 1970 00:00:00 GMT/);
      expect(await open.store.get(login.body.id)).toBeUndefined();
      row.regenerateDeletesOld = 'yes';
      row.destroyDeletesRecord = 'yes';
    });

    it('enforces the idle and absolute timeouts on the server, whatever the store still holds', async () => {
      clock = Date.now();
      const first = await send(server.baseUrl, '/put?key=a&value=1');
      const cookie = cookieOf(first.setCookie)!;
      clock += 59_000;
      expect((await send(server.baseUrl, '/all', { cookie })).body.isNew).toBe(false); // inside the idle timeout
      clock += 61_000;
      const idle = await send(server.baseUrl, '/all', { cookie });
      expect(idle.body.isNew).toBe(true);
      expect(await open.store.get(first.body.id)).toBeUndefined(); // deleted, not just ignored

      clock = Date.now();
      const second = await send(server.baseUrl, '/put?key=a&value=1');
      const cookie2 = cookieOf(second.setCookie)!;
      let alive = 0;
      for (let t = 50; t <= 300; t += 50) {
        clock += 50_000; // active every 50 s: never idle
        if (!(await send(server.baseUrl, '/all', { cookie: cookie2 })).body.isNew) alive++;
      }
      expect(alive).toBe(6); // up to 300 s
      clock += 2_000;
      expect((await send(server.baseUrl, '/all', { cookie: cookie2 })).body.isNew).toBe(true);
      row.idleTimeout = 'enforced at 60 s';
      row.absoluteTimeout = 'enforced at 300 s';
    });
  });
}

describe('ids, cookies, CSRF source rules, secrets', () => {
  let open: OpenBackend;
  let server: TestServer;
  beforeAll(async () => {
    open = await backend('memory').open();
    server = await startServer(open.store, {}, { origins: ['https://admin.example.com'] });
  });
  afterAll(async () => {
    await server?.close();
    await open?.close();
  });

  it('100,000 ids are unique, 256 bits each, and their bits are balanced', async () => {
    const manager = new SessionManager({ secret: SECRET, store: open.store });
    const ids = new Set<string>();
    let ones = 0;
    const N = 100_000;
    for (let i = 0; i < N; i++) {
      const { id } = await manager.load(undefined);
      ids.add(id);
      const bytes = Buffer.from(id, 'base64url');
      expect(bytes.length).toBe(32);
      if (i < 10_000) for (const byte of bytes) for (let b = byte; b; b >>= 1) ones += b & 1;
    }
    const share = ones / (10_000 * 256);
    figures.record('ids', { generated: N, unique: ids.size, bits: 256, shareOfOneBits: Math.round(share * 10_000) / 10_000 });
    expect(ids.size).toBe(N);
    expect(Math.abs(share - 0.5)).toBeLessThan(0.005);
  });

  it('cookie defaults: HttpOnly, SameSite=Lax, Path=/, Secure in production; __Host- rules', async () => {
    const env = process.env.NODE_ENV;
    const headerFor = async (options: ConstructorParameters<typeof SessionManager>[0]['cookie'], nodeEnv: string | undefined) => {
      if (nodeEnv === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = nodeEnv;
      try {
        const manager = new SessionManager({ secret: SECRET, store: open.store, cookie: options });
        const s = await manager.load(undefined);
        s.put('a', 1);
        return (await manager.commit(s))!;
      } finally {
        process.env.NODE_ENV = env;
      }
    };
    const production = await headerFor(undefined, 'production');
    expect(production).toMatch(/^sess=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    expect(await headerFor(undefined, undefined)).toContain('; Secure');
    expect(await headerFor(undefined, 'development')).not.toContain('Secure');
    const host = await headerFor({ name: '__Host-sess' }, 'production');
    expect(host).toMatch(/^__Host-sess=.*; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    expect(host).not.toContain('Domain');
    const refused = [
      { name: '__Host-sess', secure: false },
      { name: '__Host-sess', domain: 'example.com' },
      { name: '__Host-sess', path: '/app' },
      { name: '__Secure-sess', secure: false },
      { sameSite: 'none' as const, secure: false },
    ];
    for (const cookie of refused) expect(() => new SessionManager({ secret: SECRET, cookie })).toThrow(ConfigError);
    // Through HTTP: what the app really sends.
    const r = await send(server.baseUrl, '/put?key=a&value=1');
    expect(r.setCookie[0]).toMatch(/; Path=\/; HttpOnly; SameSite=Lax$/);
    figures.record('cookie', { production, hostPrefixRulesRefused: refused.length });
  });

  it('CSRF: Fetch Metadata and Origin rules through HTTP; a refused request does not burn the token', async () => {
    const first = await send(server.baseUrl, '/put?key=a&value=1');
    const cookie = cookieOf(first.setCookie)!;
    const own = server.baseUrl;
    const cases: Array<[string, Record<string, string>, number]> = [
      ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }, 403],
      ['Sec-Fetch-Site: same-site', { 'sec-fetch-site': 'same-site' }, 403],
      ['Sec-Fetch-Site: cross-site from an allowed origin', { 'sec-fetch-site': 'cross-site', origin: 'https://admin.example.com' }, 200],
      ['Sec-Fetch-Site: same-origin', { 'sec-fetch-site': 'same-origin' }, 200],
      ['Sec-Fetch-Site: none', { 'sec-fetch-site': 'none' }, 200],
      ['Origin: another site', { origin: 'https://evil.example' }, 403],
      ['Origin: null', { origin: 'null' }, 403],
      ['Origin: own origin', { origin: own }, 200],
      ['Origin: allowed origin', { origin: 'https://admin.example.com/' }, 200],
      ['Origin: own host on another port', { origin: own.replace(/:\d+$/, ':1') }, 403],
      ['no browser headers (the token decides)', {}, 200],
    ];
    const results: Record<string, number> = {};
    for (const [name, headers, expected] of cases) {
      const { body } = await send(server.baseUrl, '/csrf/token', { cookie });
      const r = await send(server.baseUrl, '/csrf/submit', { cookie, method: 'POST', headers: { ...headers, 'x-csrf-token': body.token } });
      results[name] = r.status;
      expect(r.status, name).toBe(expected);
      if (expected === 403) {
        // Refused on its source before the token was looked at: the token still works same-origin.
        const retry = await send(server.baseUrl, '/csrf/submit', { cookie, method: 'POST', headers: { 'sec-fetch-site': 'same-origin', 'x-csrf-token': body.token } });
        expect(retry.status, `${name}: retry`).toBe(200);
      }
    }
    const { body } = await send(server.baseUrl, '/csrf/token', { cookie });
    const inQuery = await send(server.baseUrl, `/csrf/submit?_token=${body.token}`, { cookie, method: 'POST' });
    results['token in the query string'] = inQuery.status;
    expect(inQuery.status).toBe(403);
    const inForm = await send(server.baseUrl, '/csrf/submit', { cookie, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `_token=${body.token}` });
    results['token in the form field'] = inForm.status;
    expect(inForm.status).toBe(200);
    figures.record('csrf source rules', results);
  });

  it('refuses secrets shorter than 32 bytes, in the manager and in session()', () => {
    const short = 'x'.repeat(31);
    const message = /^\[sess\] every secret must be at least 32 bytes long \(got 31\)/;
    expect(() => new SessionManager({ secret: short })).toThrow(message);
    expect(() => new SessionManager({ secret: [SECRET, short] })).toThrow(message);
    expect(() => session({ secret: short })).toThrow(ConfigError);
    expect(() => new SessionManager({ secret: '' })).toThrow(ConfigError);
    expect(() => new SessionManager({ secret: [] })).toThrow(ConfigError);
    expect(() => new SessionManager({ secret: 'é'.repeat(16) })).not.toThrow(); // 32 bytes of UTF-8
    expect(createHmac('sha256', SECRET).update('x').digest().length).toBe(32);
    figures.record('secrets', { shortest: 32, refused31: 'yes', refusedInArray: 'yes', refusedEmpty: 'yes' });
  });
});
