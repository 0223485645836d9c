export { ExpressSessionMigrator, type ExpressSessionMigratorOptions, type MigrationOutcome, type MigrationResult } from './migrator.js';
export { migrationMiddleware, type MigrationMiddleware, type MigrationMiddlewareOptions } from './node.js';
export {
  connectPgSimpleSource,
  connectRedisSource,
  connectSessionKnexSource,
  sessionFileStoreSource,
  type ClaimedSession,
  type ConnectPgSimpleSourceOptions,
  type ConnectRedisSourceOptions,
  type ConnectSessionKnexSourceOptions,
  type KnexLike,
  type OldSessionSource,
  type PgQueryable,
  type RedisClientLike,
  type SessionFileStoreSourceOptions,
} from './sources.js';
export type { OldCookieOptions } from './old-cookie.js';
