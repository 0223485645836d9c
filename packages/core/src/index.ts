export { SessionManager, managerOf, toManager, type SessionManagerOptions, type UserSessionInfo } from './manager.js';
export { Session } from './session.js';
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js';
export { applyChange, emptyRecord, isEmptyChange, isSessionRecord, TOKEN_RING_SIZE } from './change.js';
export { ConfigError, CsrfError, SessionError, StoreError, ValueError, toStoreError, type SessionErrorCode } from './errors.js';
export { readCookieValues, type CookieOptions } from './cookie.js';
export type {
  ChangeResult,
  DefaultData,
  JsonValue,
  SessionChange,
  SessionData,
  SessionRecord,
  Store,
  StoredSession,
  UpdateResult,
} from './types.js';
export { createCsrfCheck, CSRF_VARY, type CsrfOptions, type CsrfRequest } from './csrf.js';
