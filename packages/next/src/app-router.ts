import { debuglog } from 'node:util';
import { SessionError, type SessionManager } from '@sess/core';
import type { CookieAttributes, SessionCookie } from '@sess/core/http';
import { cookieNotWritable } from './errors.js';
import { type NextSession, cookieNeed, hasUnsavedChanges, withSave } from './next-session.js';

const debug = debuglog('sess:next');

/** The part of Next's `cookies()` object sess uses (structural: Next 14.2 to 16 alike). */
export interface CookieJar {
  get(name: string): { value: string } | undefined;
  set(name: string, value: string, options?: Partial<CookieAttributes>): unknown;
}

const setCookie = (jar: CookieJar, cookie: SessionCookie) => jar.set(cookie.name, cookie.value, cookie.options);

/**
 * Builds `getSession()` for server components, route handlers, server actions
 * and `proxy.ts`/middleware (App Router).
 */
export function createGetSession<Data extends object>(manager: SessionManager<Data>): () => Promise<NextSession<Data>> {
  // One session per request: a layout and a page that both call getSession()
  // share it, so flash values consumed at load are seen by both. Next hands out
  // one cookies object per request, which makes it the key.
  const sessions = new WeakMap<object, Promise<NextSession<Data>>>();
  const name = manager.cookie.name;

  async function load(jar: CookieJar): Promise<NextSession<Data>> {
    const incoming = jar.get(name)?.value;
    const session = await manager.load(incoming === undefined ? undefined : `${name}=${incoming}`);
    let saved = false;
    await warnIfNotSaved(() => !saved && hasUnsavedChanges(session, manager));
    return withSave(session, async () => {
      saved = true;
      const need = cookieNeed(session, manager);
      if (need !== 'none') {
        // Set the cookie before the store sees the new id: if Next refuses (a
        // server component renders), nothing has been written yet.
        try {
          setCookie(jar, manager.cookieFor(session.id));
        } catch (err) {
          if (need === 'optional') return debug('new empty session not saved: cookies are read-only here');
          throw cookieNotWritable('server-component', err);
        }
      }
      let cookie: SessionCookie | undefined;
      try {
        cookie = await manager.commitCookie(session);
      } catch (err) {
        // The store failed: give the browser its old cookie back.
        if (need !== 'none') {
          const previous = manager.cookieFor(session.id);
          if (incoming === undefined) setCookie(jar, manager.expiredCookie());
          else jar.set(name, incoming, previous.options);
        }
        throw err;
      }
      if (cookie === undefined) return;
      try {
        setCookie(jar, cookie);
      } catch (err) {
        if (need !== 'none') throw err;
        // A re-signed or rolling cookie for an existing session: the store is
        // already up to date, and the cookie can be refreshed by a later request.
        debug('cookie refresh of session %s skipped: cookies are read-only here', session.id.slice(0, 8));
      }
    });
  }

  return async function getSession(): Promise<NextSession<Data>> {
    // Imported here, not at the top: next/headers works only inside a Next
    // request, and the Pages Router helpers must load without it. The `.js`
    // file name: next has no exports map, so Node's ESM loader (unbundled, as
    // with serverExternalPackages) needs it; bundlers resolve it the same.
    const { cookies } = (await import('next/headers.js' as string)) as { cookies(): CookieJar | Promise<CookieJar> };
    let jar: CookieJar;
    try {
      jar = await cookies();
    } catch (err) {
      throw new SessionError(
        '[sess] getSession() works only inside a Next.js App Router request (a server component, route handler, server action or proxy.ts); in the Pages Router use getPagesSession(req, res), withSessionRoute() or withSessionSsr().',
        { code: 'E_UNSUPPORTED', cause: err },
      );
    }
    let pending = sessions.get(jar);
    if (pending === undefined) {
      pending = load(jar);
      sessions.set(jar, pending);
      pending.catch(() => sessions.delete(jar));
    }
    return pending;
  };
}

/**
 * Server components and server actions have no "end of request" the adapter
 * could commit at, so a forgotten `save()` would lose changes silently. Next's
 * `after()` (15.1+) runs once the response is sent: warn there, loudly.
 */
async function warnIfNotSaved(unsaved: () => boolean): Promise<void> {
  try {
    const { after } = (await import('next/server.js' as string)) as { after?: (task: () => void) => void };
    after?.(() => {
      if (!unsaved()) return;
      process.emitWarning(
        '[sess] the session was changed but never saved, so the change is lost: call `await session.save()` after changing it (or wrap the route handler in withSession()).',
        { type: 'SessWarning', code: 'SESS_NOT_SAVED' },
      );
    });
  } catch (err) {
    debug('after() unavailable, unsaved changes go unreported: %s', err instanceof Error ? err.message : String(err));
  }
}
