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
