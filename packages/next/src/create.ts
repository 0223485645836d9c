import { type DefaultData, SessionManager, type SessionManagerOptions } from '@sess/core';
import type { LifecycleOptions } from '@sess/core/http';
import { createGetSession } from './app-router.js';
import { createPagesHelpers } from './pages-router.js';
import { createWithSession } from './route-handler.js';

/**
 * Configures sessions once for a Next.js app and returns the helpers for each
 * place that can see a request. Put it in `lib/session.ts` and import from there.
 *
 * @example
 * // lib/session.ts
 * export const { getSession, withSession, withSessionRoute, withSessionSsr } = createNextSessions({
 *   secret: process.env.SESSION_SECRET!,
 *   store: new RedisStore({ client }),
 * });
 */
export function createNextSessions<Data extends object = DefaultData>(options: (SessionManagerOptions & Pick<LifecycleOptions, 'commitOnError'>) | SessionManager<Data>) {
  // Duck-typed, not instanceof: Next may bundle @sess/core once per server layer.
  const manager =
    typeof (options as SessionManager<Data>).load === 'function' && typeof (options as SessionManager<Data>).commit === 'function'
      ? (options as SessionManager<Data>)
      : new SessionManager<Data>(options as SessionManagerOptions);
  return {
    /** The `SessionManager` behind the helpers (listSessions, destroySessions, close). */
    manager,
    /** App Router: the session of this request, in server components, route handlers and server actions. */
    getSession: createGetSession(manager),
    /** App Router route handlers and middleware: the session in `context.session`, saved on return. */
    withSession: createWithSession(manager),
    ...createPagesHelpers(manager, { commitOnError: (options as LifecycleOptions).commitOnError }),
  };
}

export type NextSessions<Data extends object = DefaultData> = ReturnType<typeof createNextSessions<Data>>;
