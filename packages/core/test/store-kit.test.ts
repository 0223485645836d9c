/**
 * A store written only with the store kit, the way a DynamoDB, MongoDB or
 * Cloudflare KV store would be: the backend offers a read, a conditional put
 * and a delete; `casStore()` gives it the atomic `update` and `rotate`. It
 * runs the same conformance suite as every store of this repository.
 */
import { describe, expect, it } from 'vitest';
import { SessionManager, type SessionRecord, type Store, type StoredSession } from '../src/index.js';
import { type CasBackend, Sweeper, casStore } from '../src/store-kit.js';
import { TestClient, testSecret, testStore } from '../src/testing.js';

/** A key-value backend with etags, like the ones above: every call yields to the event loop. */
class EtagKv {
  readonly items = new Map<string, { text: string; etag: number; expires: number }>();
  #etag = 0;
  async get(key: string) {
    await new Promise((resolve) => setImmediate(resolve));
    const item = this.items.get(key);
    return item && item.expires > Date.now() ? item : undefined;
  }
  async putIf(key: string, text: string, ttlSeconds: number, ifEtag: number | null): Promise<number | undefined> {
    await new Promise((resolve) => setImmediate(resolve));
    const item = this.items.get(key);
    const live = item && item.expires > Date.now() ? item : undefined;
    if ((live?.etag ?? null) !== ifEtag) return undefined;
    const etag = ++this.#etag;
    this.items.set(key, { text, etag, expires: Date.now() + ttlSeconds * 1000 });
    return etag;
  }
  async delete(key: string) {
    this.items.delete(key);
  }
}

/** The whole store: about sixty lines over the backend. */
class KvStore implements Store {
  readonly kv = new EtagKv();
  readonly #cas = casStore(this.#backend());
  readonly sweeper = new Sweeper({ interval: 0, sweep: async () => this.#sweep() });
  get = this.#cas.get;
  update = this.#cas.update;
  rotate = this.#cas.rotate;

  #backend(): CasBackend {
    return {
      read: async (id) => {
        const item = await this.kv.get(id);
        if (!item) return undefined;
        try {
          return { value: JSON.parse(item.text), version: item.etag };
        } catch {
          return { value: undefined, version: item.etag };
        }
      },
      writeIf: (id, value, ttl, expected) => this.kv.putIf(id, JSON.stringify(value), ttl, expected === null ? null : Number(expected)),
    };
  }
  async set(id: string, record: SessionRecord, ttlSeconds: number) {
    const item = await this.kv.get(id);
    await this.kv.putIf(id, JSON.stringify(record), ttlSeconds, item?.etag ?? null);
  }
  async destroy(id: string) {
    await this.kv.delete(id);
  }
  async listByUser(userId: string): Promise<StoredSession[]> {
    const out: StoredSession[] = [];
    for (const id of [...this.kv.items.keys()]) {
      const found = await this.get(id);
      if (found?.record.user === userId) out.push({ id, record: found.record });
    }
    return out;
  }
  async destroyByUser(userId: string, exceptId?: string) {
    const mine = (await this.listByUser(userId)).filter((s) => s.id !== exceptId);
    for (const { id } of mine) await this.destroy(id);
    return mine.length;
  }
  prune = () => this.sweeper.run();
  async #sweep() {
    let count = 0;
    for (const [id, item] of this.kv.items) if (item.expires <= Date.now() && this.kv.items.delete(id)) count++;
    return count;
  }
  async close() {
    await this.sweeper.close();
  }
}

testStore({
  name: 'a store built with the store kit',
  create: () => new KvStore(),
  corrupt: async (store, id) => {
    const item = store.kv.items.get(id)!;
    item.text = '{"data":';
  },
  cleanup: (store) => store.close(),
});

describe('the store kit', () => {
  it('drives a SessionManager through sign-in, flash and sign-out', async () => {
    const manager = new SessionManager({ secret: testSecret(), store: new KvStore(), cookie: { secure: false } });
    const client = new TestClient(manager);
    await client.request((s) => s.put('cart', ['x']).flash('notice', 'hi'));
    expect((await client.request((s) => s.flash('notice'))).result).toBe('hi');
    await client.request((s) => s.regenerateId(true).setUser('ada'));
    expect((await client.request((s) => s.get('cart'))).result).toEqual(['x']);
    expect(await manager.listSessions('ada')).toHaveLength(1);
    await client.request((s) => s.destroy());
    expect(await manager.listSessions('ada')).toHaveLength(0);
  });
});
