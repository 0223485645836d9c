export { SessionManager, managerOf, toManager, type CommitResult, type LoadOptions, type SessionManagerOptions, type UserSessionInfo } from './manager.js';
export { MAX_USER_ID_LENGTH, Session, type NumericKey, type SessionKey } from './session.js';
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js';
export { applyChange, emptyRecord, isEmptyChange, isRotatedMark, isSessionRecord, ROTATED_MARK, ROTATED_MARK_TTL, TOKEN_RING_SIZE } from './change.js';
export { ConfigError, CsrfError, SessionError, SessionGoneError, StoreError, ValueError, toStoreError, type SessionErrorCode } from './errors.js';
export { readCookieValues, type CookieAttributes, type CookieOptions, type SessionCookie } from './cookie.js';
export type {
  ChangeResult,
  DefaultData,
  JsonValue,
  RecordVersion,
  SessionChange,
  SessionData,
  SessionRecord,
  Store,
  StoredSession,
  UpdateResult,
  VersionedRecord,
} from './types.js';
export { createCsrfCheck, CSRF_VARY, type CsrfOptions, type CsrfRequest } from './csrf.js';
export {
  CHANNELS,
  type CommitEvent,
  type ConflictEvent,
  type CsrfEvent,
  type DestroyEvent,
  type LoadEvent,
  type RegenerateEvent,
  type StoreEvent,
  type TimeoutEvent,
} from './diagnostics.js';
export type { InferSchemaData, StandardSchemaIssue, StandardSchemaResult, StandardSchemaV1 } from './schema.js';
