import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { MemoryStore, SessionManager, StoreError, ConfigError, type Store } from '@sess/core';
import { ExpressSessionMigrator, type ClaimedSession, type OldSessionSource } from '@sess/migrate-express-session';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { verifyOldCookie, oldKey, rewriteCookieHeader } from '../src/old-cookie.js';

// The signer express-session itself uses, from express-session's own dependencies.
const requireFromSession = createRequire(createRequire(import.meta.url).resolve('express-session'));
const signature = requireFromSession('cookie-signature') as { sign(value: string, secret: string): string };

const OLD = 'keyboard cat';
const NEW = 'a sess secret that is long enough to sign cookies';
const oldCookie = (id: string, secret = OLD) => `connect.sid=${encodeURIComponent(`s:${signature.sign(id, secret)}`)}`;

/** An old store in memory whose claim is atomic (one synchronous step). */
class MapSource implements OldSessionSource {
  readonly kind = 'map';
  readonly records = new Map<string, ClaimedSession>();
  claims = 0;
  restored: string[] = [];
  async claim(id: string) {
    this.claims += 1;
    const found = this.records.get(id);
    this.records.delete(id);
    return found && structuredClone(found);
  }
  async restore(id: string, claimed: ClaimedSession) {
    this.restored.push(id);
    if (!this.records.has(id)) this.records.set(id, claimed);
  }
}

function setup(options: { store?: Store; saveUninitialized?: boolean; migrator?: Partial<ConstructorParameters<typeof ExpressSessionMigrator>[0]> } = {}) {
  const store = options.store ?? new MemoryStore();
  const manager = new SessionManager({ secret: NEW, store, cookie: { secure: false }, idleTimeout: 1800, absoluteTimeout: 28800, saveUninitialized: options.saveUninitialized });
  const source = new MapSource();
  const migrator = new ExpressSessionMigrator({ manager, secret: OLD, source, ...options.migrator });
  return { store, manager, source, migrator };
}

const cookieOf = (expires: number | null = Date.now() + 3600_000) => ({ originalMaxAge: expires === null ? null : 3600_000, expires: expires === null ? null : new Date(expires).toISOString(), httpOnly: true, path: '/' });

afterEach(() => {
  vi.useRealTimers();
});

describe('the old cookie', () => {
  it("verifies what express-session's signer wrote, URL-encoded or not, with every old secret", () => {
    const id = 'pyEXcL7KSeLD2QgKXJuJ1HJKg8EL-ILZ';
    const signed = `s:${signature.sign(id, 'second secret')}`;
    const keys = ['first secret', 'second secret'].map(oldKey);
    expect(verifyOldCookie(encodeURIComponent(signed), keys)).toBe(id);
    expect(verifyOldCookie(signed, keys)).toBe(id);
    expect(verifyOldCookie(signed, [oldKey('first secret')])).toBeUndefined();
  });

  it('refuses anything unsigned, tampered or malformed', () => {
    const keys = [oldKey(OLD)];
    const id = 'abcdefghijklmnopqrstuvwxyz012345';
    const good = `s:${signature.sign(id, OLD)}`;
    const sig = good.slice(good.lastIndexOf('.') + 1);
    for (const value of [
      id,
      `s:${id}`,
      `s:${id}.`,
      `s:${id}.${sig}=`,
      `s:${id}.${sig.slice(0, -1)}`,
      `s:${id.replace('a', 'b')}.${sig}`,
      `S:${id}.${sig}`,
      `s:.${sig}`,
      `s:${id} x.${sig}`,
      '%E0%A4%A',
      `s:${'a'.repeat(300)}.${createHmac('sha256', OLD).update('a'.repeat(300)).digest('base64').replace(/=+$/, '')}`,
    ]) {
      expect(verifyOldCookie(value, keys), value).toBeUndefined();
    }
    expect(verifyOldCookie(good, keys)).toBe(id);
  });

  it('rewrites the Cookie header: other cookies kept, the named ones dropped, the sess cookie first', () => {
    expect(rewriteCookieHeader('a=1; connect.sid=s%3Ax.y; sess=bad; b=2', ['connect.sid', 'sess'], 'sess=good')).toBe('sess=good; a=1; b=2');
    expect(rewriteCookieHeader('connect.sid=x', ['connect.sid'])).toBeUndefined();
    expect(rewriteCookieHeader(undefined, ['connect.sid'], 'sess=v')).toBe('sess=v');
  });
});

describe('ExpressSessionMigrator', () => {
  it('migrates a signed session: data kept, cookie dropped, old record taken, sess cookie set, old cookie expired', async () => {
    const { source, migrator, manager, store } = setup();
    source.records.set('old-1', { session: { cookie: cookieOf(), userId: 'u1', cart: ['a'] } });
    const result = await migrator.load(`theme=dark; ${oldCookie('old-1')}`);
    expect(result.outcome).toBe('migrated');
    const id = migrator.sessIdFor('old-1');
    expect(result.cookieHeader).toBe(`sess=${manager.cookieFor(id).value}; theme=dark`);
    expect(result.setCookies).toEqual([manager.cookieFor(id).header, 'connect.sid=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly']);
    expect(source.records.has('old-1')).toBe(false);
    const session = await manager.load(result.cookieHeader);
    expect(session.id).toBe(id);
    expect(session.all()).toEqual({ userId: 'u1', cart: ['a'] });
    expect((await store.get(id))?.record.meta).toEqual({ migratedAt: expect.any(String) });
  });

  it('never lets the migrated session outlive the old expiry, and keeps sess timeouts when they are shorter', async () => {
    const { source, migrator, manager, store } = setup();
    const now = Date.now();
    source.records.set('soon', { session: { cookie: cookieOf(), n: 1 }, expiresAt: now + 10 * 60_000 });
    source.records.set('late', { session: { cookie: cookieOf(now + 7 * 86400_000), n: 2 } });
    source.records.set('unknown', { session: { cookie: cookieOf(null), n: 3 } });

    const soon = await manager.load((await migrator.load(oldCookie('soon'))).cookieHeader);
    expect(soon.expiresAt).toBeLessThanOrEqual(now + 10 * 60_000);
    expect(soon.expiresAt).toBeGreaterThan(now + 10 * 60_000 - 2000);
    const stored = (await store.get(soon.id))!.record;
    expect(stored.createdAt + 28800_000).toBeLessThanOrEqual(now + 10 * 60_000); // activity cannot carry it past the old end either

    // The store's own expiry wins over cookie.expires; without it, cookie.expires; without both, sess's timeouts.
    const late = await manager.load((await migrator.load(oldCookie('late'))).cookieHeader);
    expect(late.expiresAt - Date.now()).toBeGreaterThan(1790_000);
    expect(late.expiresAt - Date.now()).toBeLessThanOrEqual(1800_000);
    const unknown = await manager.load((await migrator.load(oldCookie('unknown'))).cookieHeader);
    expect(unknown.get('n')).toBe(3);
    expect(unknown.createdAt).toBe(unknown.lastSeen);
  });

  it('treats an expired or empty old session as gone: the old cookie expired, no sess session', async () => {
    const { source, migrator, store } = setup({ migrator: { handoverWait: 0 } });
    source.records.set('expired', { session: { cookie: cookieOf(Date.now() - 1000), userId: 'x' } });
    source.records.set('empty', { session: { cookie: cookieOf() } });
    source.records.set('consumed-flash', { session: { cookie: cookieOf(), flash: {} } });
    for (const id of ['expired', 'empty', 'consumed-flash', 'never-stored']) {
      const result = await migrator.load(`${oldCookie(id)}; other=1`);
      expect(result.outcome, id).toBe('gone');
      expect(result.cookieHeader).toBe('other=1');
      expect(result.setCookies).toEqual([expect.stringMatching(/^connect\.sid=; Path=\/; Expires=/)]);
      expect(await store.get(migrator.sessIdFor(id))).toBeUndefined();
    }
  });

  it('migrates an empty session when sess stores uninitialized sessions', async () => {
    const { source, migrator } = setup({ saveUninitialized: true });
    source.records.set('empty', { session: { cookie: cookieOf() } });
    expect((await migrator.load(oldCookie('empty'))).outcome).toBe('migrated');
  });

  it('turns connect-flash messages into flash values, sets the user, reshapes data with transform', async () => {
    const { source, migrator, manager } = setup({
      migrator: {
        user: (data) => (data.passport as { user?: string } | undefined)?.user,
        transform: ({ passport, ...rest }) => ({ ...rest, userId: (passport as { user: string }).user, at: new Date(0) }),
      },
    });
    source.records.set('f', { session: { cookie: cookieOf(), passport: { user: 'u9' }, flash: { info: ['one', 'two'], error: [] } } });
    const session = await manager.load((await migrator.load(oldCookie('f'))).cookieHeader);
    expect(session.flash('info')).toEqual(['one', 'two']);
    expect(session.flash('error')).toBeUndefined();
    expect(session.get('userId')).toBe('u9');
    expect(session.get('at')).toBe('1970-01-01T00:00:00.000Z');
    expect(session.has('passport')).toBe(false);
    expect(session.has('flash')).toBe(false);

    const { source: s2, migrator: m2, manager: man2 } = setup({ migrator: { flashKey: false } });
    s2.records.set('g', { session: { cookie: cookieOf(), flash: { info: ['kept as data'] } } });
    const kept = await man2.load((await m2.load(oldCookie('g'))).cookieHeader);
    expect(kept.get('flash')).toEqual({ info: ['kept as data'] });
    expect(kept.flash('info')).toBeUndefined();
  });

  it('refuses forged cookies without reading the old store, and tries a valid one sent beside them', async () => {
    const { source, migrator } = setup();
    source.records.set('victim', { session: { cookie: cookieOf(), userId: 'v' } });
    const forged = oldCookie('victim', 'not the secret');
    const result = await migrator.load(forged);
    expect(result).toEqual({ cookieHeader: forged, setCookies: [], outcome: 'refused' });
    expect(source.claims).toBe(0);
    expect(source.records.has('victim')).toBe(true);

    source.records.set('mine', { session: { cookie: cookieOf(), userId: 'm' } });
    const both = await migrator.load(`${forged}; ${oldCookie('mine')}`);
    expect(both.outcome).toBe('migrated');
    expect(source.claims).toBe(1);
    expect(source.records.has('victim')).toBe(true);
  });

  it('leaves the old cookie alone when a valid sess cookie comes with it, and does nothing without an old cookie', async () => {
    const { source, migrator, manager } = setup();
    source.records.set('o', { session: { cookie: cookieOf(), userId: 'o' } });
    const sess = `sess=${manager.cookieFor('A'.repeat(43)).value}`;
    expect(await migrator.load(`${sess}; ${oldCookie('o')}`)).toEqual({ cookieHeader: `${sess}; ${oldCookie('o')}`, setCookies: [], outcome: 'skipped' });
    expect(await migrator.load(sess)).toEqual({ cookieHeader: sess, setCookies: [], outcome: 'none' });
    expect(await migrator.load(undefined)).toEqual({ cookieHeader: undefined, setCookies: [], outcome: 'none' });
    expect(source.claims).toBe(0);
    // A sess cookie with a bad signature does not count: the old session migrates and replaces it.
    const bad = `sess=${'A'.repeat(43)}.${'B'.repeat(43)}`;
    const result = await migrator.load(`${bad}; ${oldCookie('o')}`);
    expect(result.outcome).toBe('migrated');
    expect(result.cookieHeader).toBe(`sess=${manager.cookieFor(migrator.sessIdFor('o')).value}`);
  });

  it('hands the migrated session to overlapping requests: one claim wins, the others wait for its write', async () => {
    const slow = new MemoryStore();
    const set = slow.set.bind(slow);
    slow.set = async (...args) => {
      await new Promise((r) => setTimeout(r, 50));
      return set(...args);
    };
    const { source, migrator, store, manager } = setup({ store: slow });
    source.records.set('o', { session: { cookie: cookieOf(), userId: 'o' } });
    // In one process: the overlapping requests share the one migration.
    const results = await Promise.all(Array.from({ length: 5 }, () => migrator.load(oldCookie('o'))));
    expect(results.map((r) => r.outcome).sort()).toEqual(['handed-over', 'handed-over', 'handed-over', 'handed-over', 'migrated']);
    expect(new Set(results.map((r) => r.cookieHeader)).size).toBe(1);
    expect(source.claims).toBe(1);
    expect((await store.get(migrator.sessIdFor('o')))?.record.data).toEqual({ userId: 'o' });

    // Across processes (two migrators on the same stores): the loser's claim finds nothing and it waits for the write.
    const other = new ExpressSessionMigrator({ manager, secret: OLD, source });
    source.records.set('p', { session: { cookie: cookieOf(), userId: 'p' } });
    const [a, b] = await Promise.all([migrator.load(oldCookie('p')), other.load(oldCookie('p'))]);
    expect([a.outcome, b.outcome].sort()).toEqual(['handed-over', 'migrated']);
    expect(a.cookieHeader).toBe(b.cookieHeader);
    expect(source.claims).toBe(3);
  });

  it('hands over only within handoverWindow: later, the old cookie is dead', async () => {
    const { source, migrator } = setup({ migrator: { handoverWindow: 60, handoverWait: 0 } });
    source.records.set('o', { session: { cookie: cookieOf(), userId: 'o' } });
    expect((await migrator.load(oldCookie('o'))).outcome).toBe('migrated');
    expect((await migrator.load(oldCookie('o'))).outcome).toBe('handed-over');
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 61_000);
    const late = await migrator.load(oldCookie('o'));
    expect(late.outcome).toBe('gone');
    expect(late.cookieHeader).toBeUndefined();
  });

  it('puts the old record back and fails with a StoreError when the sess store cannot write', async () => {
    const broken = new MemoryStore();
    broken.set = async () => {
      throw new Error('disk full');
    };
    const { source, migrator } = setup({ store: broken });
    source.records.set('o', { session: { cookie: cookieOf(), userId: 'o' } });
    const err = await migrator.load(oldCookie('o')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).status).toBe(503);
    expect(source.restored).toEqual(['o']);
    expect(source.records.get('o')?.session.userId).toBe('o');
  });

  it("says so, and keeps the old record, when the manager has no store (store: 'cookie')", async () => {
    const manager = new SessionManager({ secret: NEW, store: 'cookie', cookie: { secure: false } });
    const source = new MapSource();
    source.records.set('o', { session: { cookie: cookieOf(), userId: 'o' } });
    const migrator = new ExpressSessionMigrator({ manager, secret: OLD, source });
    await expect(migrator.load(oldCookie('o'))).rejects.toThrow(ConfigError);
    await expect(migrator.load(oldCookie('o'))).rejects.toThrow(/store: 'cookie'/);
    expect(source.records.has('o')).toBe(true);
  });

  it("checks the data against the manager's schema: a mismatch puts the old record back and keeps the old cookie", async () => {
    // A Standard Schema validator, as zod or valibot give one.
    const schema = {
      '~standard': {
        version: 1 as const,
        vendor: 'test',
        validate: (value: unknown) =>
          typeof (value as { userId?: unknown }).userId === 'string' ? { value: value as { userId: string } } : { issues: [{ message: 'expected a string', path: ['userId'] }] },
      },
    };
    const store = new MemoryStore();
    const manager = new SessionManager<{ userId: string }>({ secret: NEW, store, schema, cookie: { secure: false } });
    const source = new MapSource();
    source.records.set('bad', { session: { cookie: cookieOf(), user_id: 7 } });
    source.records.set('good', { session: { cookie: cookieOf(), userId: 'g' } });
    const migrator = new ExpressSessionMigrator({ manager, secret: OLD, source });
    const bad = await migrator.load(oldCookie('bad'));
    expect(bad).toEqual({ cookieHeader: oldCookie('bad'), setCookies: [], outcome: 'invalid', issues: ['userId: expected a string'] });
    expect(source.records.get('bad')?.session.user_id).toBe(7);
    expect(await store.get(migrator.sessIdFor('bad'))).toBeUndefined();
    expect((await migrator.load(oldCookie('good'))).outcome).toBe('migrated');

    // Fixed with transform, the next request migrates it.
    const fixed = new ExpressSessionMigrator({ manager, secret: OLD, source, transform: ({ user_id, ...rest }) => ({ ...rest, userId: String(user_id) }) });
    const result = await fixed.load(oldCookie('bad'));
    expect(result.outcome).toBe('migrated');
    expect((await manager.load(result.cookieHeader)).get('userId')).toBe('7');
  });

  it('fails with a StoreError when the old store fails', async () => {
    const { migrator, source } = setup();
    source.claim = async () => {
      throw new Error('connection refused');
    };
    await expect(migrator.load(oldCookie('o'))).rejects.toBeInstanceOf(StoreError);
  });

  it('after `until`, only expires old cookies, without reading the old store', async () => {
    const { source, migrator } = setup({ migrator: { until: new Date(Date.now() - 1) } });
    source.records.set('o', { session: { cookie: cookieOf(), userId: 'o' } });
    const result = await migrator.load(oldCookie('o'));
    expect(result.outcome).toBe('closed');
    expect(result.setCookies).toHaveLength(1);
    expect(source.claims).toBe(0);
  });

  it('expires the old cookie with the path and domain it was set with', async () => {
    const { source, migrator } = setup({ migrator: { cookie: { name: 'app.sid', path: '/app', domain: 'example.test', secure: true }, handoverWait: 0 } });
    const result = await migrator.load(oldCookie('x').replace('connect.sid', 'app.sid'));
    expect(source.claims).toBe(1);
    expect(result.setCookies).toEqual(['app.sid=; Path=/app; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Domain=example.test; Secure; HttpOnly']);
  });

  it('checks its options', () => {
    const manager = new SessionManager({ secret: NEW, store: new MemoryStore() });
    const source = new MapSource();
    expect(() => new ExpressSessionMigrator({ manager, secret: '', source })).toThrow(ConfigError);
    expect(() => new ExpressSessionMigrator({ manager, secret: [], source })).toThrow(ConfigError);
    expect(() => new ExpressSessionMigrator({ manager: {} as SessionManager, secret: OLD, source })).toThrow(ConfigError);
    expect(() => new ExpressSessionMigrator({ manager, secret: OLD, source: {} as OldSessionSource })).toThrow(ConfigError);
    expect(() => new ExpressSessionMigrator({ manager, secret: OLD, source, cookie: { name: 'sess' } })).toThrow(/both called "sess"/);
    expect(() => new ExpressSessionMigrator({ manager, secret: OLD, source, handoverWait: -1 })).toThrow(ConfigError);
  });
});
