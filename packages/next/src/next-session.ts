import type { DefaultData, Session, SessionManager } from '@sess/core';

/** A core `Session` with `save()`, the explicit commit of the Next adapter. */
export type NextSession<Data extends object = DefaultData> = Session<Data> & {
  /**
   * Writes the changes of this request to the store and sets the cookie when it
   * changed. Next has no "end of request" hook for server components and server
   * actions, so changes are kept only when you call it. Safe to call twice.
   * @example session.flash('notice', 'Saved'); await session.save();
   */
  save(): Promise<void>;
};

/** What `save()` must do about the cookie. */
export type CookieNeed = 'required' | 'optional' | 'none';

/**
 * Whether committing `session` will change the cookie: `required` for a session
 * made, regenerated or destroyed in this request with something to store,
 * `optional` for an untouched new one kept only because of `saveUninitialized`.
 */
export function cookieNeed(session: Session<any>, manager: SessionManager<any>): CookieNeed {
  if (!session.isNew) return 'none';
  if (session.needsCookie) return 'required';
  return manager.saveUninitialized ? 'optional' : 'none';
}

export function withSave<Data extends object>(session: Session<Data>, save: () => Promise<void>): NextSession<Data> {
  Object.defineProperty(session, 'save', { value: save, enumerable: false, configurable: true });
  return session as NextSession<Data>;
}

/** True when commit would write something the application asked for. */
export function hasUnsavedChanges(session: Session<any>, manager: SessionManager<any>): boolean {
  return session.isNew ? cookieNeed(session, manager) === 'required' : session.isDirty;
}
