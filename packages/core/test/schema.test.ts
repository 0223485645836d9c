import * as v from 'valibot';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { MemoryStore, SessionManager, ValueError } from '../src/index.js';
import { TestClient, testSecret } from '../src/testing.js';

const shape = z.object({ userId: z.string().optional(), visits: z.number().int().optional(), cart: z.array(z.string()).optional() });

describe('a Standard Schema for the session data', () => {
  it('infers the data type from the schema (zod)', () => {
    const manager = new SessionManager({ secret: testSecret(), schema: shape });
    expectTypeOf(manager).toEqualTypeOf<SessionManager<z.infer<typeof shape>>>();
  });

  it('refuses a put the schema refuses with a ValueError, and keeps the session unchanged', async () => {
    const manager = new SessionManager({ secret: testSecret(), store: new MemoryStore({ sweepInterval: 0 }), cookie: { secure: false }, schema: shape });
    const client = new TestClient(manager);
    await client.request((s) => s.put('visits', 1).put('cart', ['a']));
    const refused = await client.request((s) => {
      const error = (() => {
        try {
          s.put('visits', 1.5);
        } catch (err) {
          return err;
        }
      })();
      return { error, visits: s.get('visits') };
    });
    expect(refused.result.error).toBeInstanceOf(ValueError);
    expect((refused.result.error as Error).message).toMatch(/^\[sess\] the session schema refused put\("visits"\): visits: /);
    expect(refused.result.visits).toBe(1);
    expect((await client.request((s) => s.all())).result).toEqual({ visits: 1, cart: ['a'] });
    await expect(client.request((s) => (s as unknown as { increment(k: string, by: number): number }).increment('visits', 0.5))).rejects.toBeInstanceOf(ValueError);
  });

  it('data that does not match at load starts a fresh session (the default) and deletes the old record', async () => {
    const store = new MemoryStore({ sweepInterval: 0 });
    const secret = testSecret();
    const before = new SessionManager<Record<string, unknown>>({ secret, store, cookie: { secure: false } });
    const after = new SessionManager({ secret, store, cookie: { secure: false }, schema: v.object({ visits: v.optional(v.number()) }) });
    const client = new TestClient(before);
    const made = await client.request((s) => s.put('visits', 'old shape'));
    const next = new TestClient(after);
    next.cookie = client.cookie;
    const { result, session } = await next.request((s) => ({ isNew: s.isNew, all: s.all() }));
    expect(result).toEqual({ isNew: true, all: {} });
    expect(session.id).not.toBe(made.session.id);
    expect(await store.get(made.session.id)).toBeUndefined();
  });

  it("with onInvalidData: 'error', data that does not match is a typed error", async () => {
    const store = new MemoryStore({ sweepInterval: 0 });
    const secret = testSecret();
    const before = new SessionManager<Record<string, unknown>>({ secret, store, cookie: { secure: false } });
    const client = new TestClient(before);
    await client.request((s) => s.put('visits', 'old shape'));
    const after = new SessionManager({ secret, store, cookie: { secure: false }, schema: shape, onInvalidData: 'error' });
    await expect(after.load(client.cookie)).rejects.toMatchObject({ name: 'ValueError', code: 'E_INVALID_DATA' });
  });

  it('refuses something that is not a Standard Schema at construction', () => {
    expect(() => new SessionManager({ secret: testSecret(), schema: {} as never })).toThrow(/Standard Schema/);
  });
});
