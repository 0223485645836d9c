import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, MemoryStore, emptyRecord } from '../src/index.js';
import { Sweeper } from '../src/store-kit.js';
import { testStore } from '../src/testing.js';

testStore({
  name: 'MemoryStore',
  create: () => new MemoryStore({ sweepInterval: 0 }),
  cleanup: (store) => store.close(),
  corrupt: async (store, id) => {
    const [expires] = store.entries.get(id)!.split('|');
    store.entries.set(id, `${expires}|{"data": [unterminated`);
  },
});

describe('MemoryStore', () => {
  let store: MemoryStore | undefined;
  afterEach(() => store?.close());

  it('refuses a sweepInterval that is not a number of seconds, and never sweeps every millisecond for a huge one', async () => {
    for (const bad of [Number.NaN, -1, Infinity, '60' as unknown as number]) expect(() => new MemoryStore({ sweepInterval: bad })).toThrow(ConfigError);
    let sweeps = 0;
    class Counting extends MemoryStore {
      override prune(): Promise<number> {
        sweeps++;
        return super.prune();
      }
    }
    const huge = new Counting({ sweepInterval: 1e9 }); // over the longest timer Node keeps
    store = huge;
    await huge.set('a', emptyRecord(Date.now()), 60); // the first write starts the sweeps
    const sweeper = new Sweeper({ interval: 1e9, sweep: async () => ++sweeps });
    await new Promise((r) => setTimeout(r, 60));
    await sweeper.close();
    expect(sweeps).toBe(0);
  });

  it('parses a record once while it is unchanged: reads share one deeply frozen record, and a write is seen at once', async () => {
    store = new MemoryStore({ sweepInterval: 0 });
    await store.set('a', { ...emptyRecord(1), data: { cart: [{ sku: 'x' }], n: 1 } }, 60);
    const first = await store.get('a');
    const second = await store.get('a');
    expect(second!.record).toBe(first!.record);
    expect(second!.version).toBe(first!.version);
    expect(Object.isFrozen(first!.record) && Object.isFrozen(first!.record.data) && Object.isFrozen((first!.record.data.cart as object[])[0])).toBe(true);
    expect(() => {
      (first!.record.data as Record<string, unknown>).n = 2;
    }).toThrow(TypeError);
    const written = await store.update('a', { increment: { n: 1 }, lastSeen: 2 }, 60, first);
    expect(written).toMatchObject({ written: true });
    const third = await store.get('a');
    expect(third!.record).not.toBe(first!.record);
    expect(third!.record.data).toEqual({ cart: [{ sku: 'x' }], n: 2 });
    expect(first!.record.data).toEqual({ cart: [{ sku: 'x' }], n: 1 }); // what was handed out never changes
    // Over the bound, every record is still read right.
    for (let i = 0; i < 1200; i++) await store.set(`s${i}`, { ...emptyRecord(1), data: { i } }, 60);
    for (let round = 0; round < 2; round++) for (let i = 0; i < 1200; i += 7) expect((await store.get(`s${i}`))!.record.data).toEqual({ i });
    await store.destroy('a');
    expect(await store.get('a')).toBeUndefined();
  });

  it('sweeps expired records on its timer', async () => {
    let now = 1_000;
    store = new MemoryStore({ sweepInterval: 0.05, clock: () => now });
    await store.set('a', emptyRecord(now), 1);
    await store.set('b', emptyRecord(now), 10);
    now += 2_000;
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(store.size).toBe(1);
    expect(await store.get('b')).toBeDefined();
  });

  it('keeps its own copy: changing a record after set changes nothing stored', async () => {
    store = new MemoryStore({ sweepInterval: 0 });
    const record = { ...emptyRecord(1), data: { list: [1] } };
    await store.set('a', record, 60);
    (record.data.list as number[]).push(2);
    expect((await store.get("a"))!.record.data.list).toEqual([1]);
  });
});
