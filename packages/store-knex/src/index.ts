export { KnexStore, type KnexStoreOptions } from './knex-store.js';
export { createSessionTable } from './schema.js';
export type { Dialect } from './dialect.js';
