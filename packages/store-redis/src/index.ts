export { RedisStore, type RedisClient, type RedisStoreOptions } from './redis-store.js';
