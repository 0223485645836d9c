import { afterAll, describe } from 'vitest';
import { testStore } from '@sess/core/testing';
import { KnexStore } from '../src/index.js';
import { DIALECTS, uniqueTable } from './dialects.js';

/** The core conformance suite against one real backend (one file per dialect, so they run in parallel). */
export async function conformance(name: string): Promise<void> {
  const dialect = DIALECTS.find((d) => d.name === name)!;
  const available = await dialect.available();
  describe.skipIf(!available)(dialect.name, () => {
    const knex = available ? dialect.connect() : undefined!;
    afterAll(async () => {
      await knex.destroy();
      dialect.dispose?.();
    });
    testStore({
      name: `KnexStore (${dialect.name})`,
      create: () => new KnexStore({ knex, tableName: uniqueTable(), createTable: true, pruneInterval: 0 }),
      cleanup: async (store) => {
        await store.close();
        await knex.schema.dropTableIfExists(store.tableName);
      },
      corrupt: async (store, id) => {
        // jsonb cannot hold invalid JSON, so PostgreSQL gets valid JSON of the wrong shape.
        const data = store.dialect === 'postgres' ? '{"data": "not a record"}' : '{"data": {not json';
        await knex(store.tableName).where('id', id).update({ data });
      },
    });
  });
}
