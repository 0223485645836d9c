/**
 * Session values through every real store: deep nesting, a 1 MB string and
 * prototype-pollution keys are stored and read back exactly, or refused with a
 * SessionError, and never pollute an object.
 */
import { SessionError, SessionManager } from '@sess/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET } from './helpers/app.js';
import { BACKENDS, type OpenBackend } from './helpers/backends.js';
import { Figures } from './helpers/figures.js';

const figures = new Figures('values', 'Bad input: session values through every store');
const only = process.env.SESS_REL_BACKENDS?.split(',');

const nested = (depth: number) => {
  let v: any = { leaf: depth };
  for (let i = 0; i < depth; i++) v = { d: v };
  return v;
};
const POISON = '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"polluted":"yes"}}';
const unpolluted = () => ({}) as any;
/** JSON with object keys sorted, own "__proto__" keys included. */
const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, x[k]])) : x));

for (const backend of BACKENDS.filter((b) => !only || only.includes(b.name))) {
  describe.skipIf(!(await backend.available()))(`${backend.name}: values`, () => {
    let open: OpenBackend;
    let manager: SessionManager;
    const row: Record<string, string | number> = {};
    beforeAll(async () => {
      open = await backend.open();
      manager = new SessionManager({ secret: SECRET, store: open.store, cookie: { secure: false } });
    });
    afterAll(async () => {
      figures.record(backend.name, row);
      await open?.close();
    });

    /** Stores `value` under `key` (a new session, then an update of it) and reads it back. */
    const roundTrip = async (key: string, value: unknown) => {
      const s = await manager.load(undefined);
      s.put('first', 1);
      const cookie = (await manager.commit(s))!.split(';')[0];
      const s2 = await manager.load(cookie);
      s2.put(key, value); // an update of a stored record: applyChange, SQL transaction or Lua script
      await manager.commit(s2);
      const s3 = await manager.load(cookie);
      expect(s3.isNew).toBe(false);
      return s3;
    };

    for (const depth of [100, 500, 2000]) {
      it(`a value nested ${depth} deep is stored and read back exactly, or refused with a SessionError`, async () => {
        const value = nested(depth);
        let outcome: string;
        try {
          const s = await roundTrip('deep', value);
          expect(s.get('deep')).toEqual(value);
          outcome = 'ok';
        } catch (err) {
          expect(err).toBeInstanceOf(SessionError);
          outcome = (err as SessionError).code;
        }
        row[`depth${depth}`] = outcome;
        if (depth <= 500) expect(outcome).toBe('ok');
      });
    }

    it('a 1 MB string is stored and read back exactly', async () => {
      const big = 'é'.repeat(256 * 1024) + 'x'.repeat(512 * 1024); // 1 MB of UTF-8 with multi-byte characters
      const s = await roundTrip('big', big);
      expect(s.get('big') === big).toBe(true);
      row.megabyteString = 'ok';
    });

    it('__proto__, constructor and prototype keys round-trip as plain data and pollute nothing', async () => {
      const s = await manager.load(undefined);
      s.put('__proto__', { polluted: 'yes' });
      s.put('constructor', { prototype: { polluted: 'yes' } });
      s.put('nested', JSON.parse(POISON));
      s.flash('__proto__', { polluted: 'flash' });
      const cookie = (await manager.commit(s))!.split(';')[0];
      const s2 = await manager.load(cookie);
      s2.put('prototype', JSON.parse(POISON));
      s2.put('toString', 'x');
      await manager.commit(s2);
      const s3 = await manager.load(cookie);
      expect(s3.get('__proto__')).toEqual({ polluted: 'yes' });
      expect(s3.get('constructor')).toEqual({ prototype: { polluted: 'yes' } });
      // Compared with sorted keys: PostgreSQL's jsonb does not keep the order of object keys.
      expect(canonical(s3.get('nested'))).toBe(canonical(JSON.parse(POISON)));
      expect(canonical(s3.get('prototype'))).toBe(canonical(JSON.parse(POISON)));
      expect(canonical(s3.get('nested')) === canonical(JSON.parse(POISON)) && JSON.stringify(s3.get('nested')) !== POISON).toBe(backend.name === 'knex postgres' ? true : false);
      expect(s3.get('toString')).toBe('x');
      const all = s3.all();
      expect(Object.getPrototypeOf(all)).toBe(Object.prototype);
      expect(Object.prototype.hasOwnProperty.call(all, '__proto__')).toBe(true);
      expect(unpolluted().polluted).toBeUndefined();
      expect((Object.prototype as any).polluted).toBeUndefined();
      expect((all as any).polluted).toBeUndefined();
      row.prototypeKeys = 'ok';
    });

    // Was a core bug (increment read the inherited member as the pending count); fixed in session.ts.
    it('increment() of keys named like Object.prototype members counts from 0', async () => {
      const s = await manager.load(undefined);
      s.put('first', 1);
      const cookie = (await manager.commit(s))!.split(';')[0];
      const s2 = await manager.load(cookie);
      for (const key of ['hasOwnProperty', 'constructor', 'toString', '__proto__']) s2.increment(key);
      await manager.commit(s2);
      const s3 = await manager.load(cookie);
      row.incrementPrototypeNames = JSON.stringify(['hasOwnProperty', 'constructor', 'toString', '__proto__'].map((k) => s3.get(k))).slice(0, 60);
      for (const key of ['hasOwnProperty', 'constructor', 'toString', '__proto__']) expect(s3.get(key)).toBe(1);
    });
  });
}
