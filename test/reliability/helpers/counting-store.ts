import type { SessionChange, SessionRecord, Store, VersionedRecord } from '@sess/core';

/** Wraps a store and remembers every id it was asked to read or change. */
export class CountingStore implements Store {
  readonly reads: string[] = [];
  constructor(readonly inner: Store) {}
  get(id: string) {
    this.reads.push(id);
    return this.inner.get(id);
  }
  set(id: string, r: SessionRecord, ttl: number) {
    return this.inner.set(id, r, ttl);
  }
  destroy(id: string) {
    return this.inner.destroy(id);
  }
  update(id: string, c: SessionChange, ttl: number, expected?: VersionedRecord) {
    this.reads.push(id);
    return this.inner.update(id, c, ttl, expected);
  }
  rotate(oldId: string, newId: string, c: SessionChange, ttl: number, expected?: VersionedRecord) {
    this.reads.push(oldId);
    return this.inner.rotate(oldId, newId, c, ttl, expected);
  }
}
