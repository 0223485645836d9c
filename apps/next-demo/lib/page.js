import { redirect } from 'next/navigation';
import { views } from 'demo-kit';
import { demo } from './demo.js';

/** Store failures (503): the page goes to /api/start, which answers them with the styled 503 page. */
const isStoreError = (/** @type {any} */ err) => err?.code === 'E_STORE' || err?.code === 'E_STORE_TIMEOUT';

/**
 * The session of a page (a server component). Server components cannot set
 * cookies, so a visitor without a session is sent once through /api/start, a
 * route handler that creates one, and back. A client that did not keep the
 * cookie comes back with `?cookies=off`: the page is then shown with a
 * session that is not saved and a note saying why, instead of an error (a
 * plain `curl -L` ends on the page, not on a 400).
 *
 * A store that fails sends the visitor to /api/start too, whose route handler
 * can answer with a status: the same 503 page whether the visitor had a
 * session or not.
 *
 * @param {string} path
 * @param {Promise<Record<string, string | string[] | undefined>> | undefined} [searchParams]
 */
export async function pageSession(path, searchParams) {
  const d = await demo();
  const retry = `/api/start?to=${encodeURIComponent(path)}`;
  let session;
  try {
    session = await d.getSession();
  } catch (err) {
    if (isStoreError(err)) redirect(retry);
    throw err;
  }
  let cookiesOff = false;
  if (session.isNew) {
    if ((await searchParams)?.cookies !== 'off') redirect(retry);
    cookiesOff = true;
  }
  /** Commits the page's changes (the store only: a page cannot set cookies); nothing when cookies are off. */
  const save = async () => {
    if (cookiesOff) return;
    try {
      await session.save();
    } catch (err) {
      if (isStoreError(err)) redirect(retry);
      throw err;
    }
  };
  return { d, session, save, cookiesOff };
}

/** The note shown instead of an error to a client that does not keep cookies. */
export const COOKIES_OFF_NOTE = 'Your browser did not keep the session cookie, so this page cannot remember you: nothing you do here is saved. Allow cookies for 127.0.0.1 and reload.';

/**
 * What the shell of every page shows. Call before `save()`: it may generate
 * the sign-out form's CSRF token.
 * @param {Awaited<ReturnType<typeof demo>>} d
 * @param {import('@sess/next').NextSession} session
 * @param {string} path
 * @param {{ cookiesOff?: boolean }} [state]
 */
export function shellOf(d, session, path, { cookiesOff = false } = {}) {
  /** @type {Array<[string, string]>} */
  const flashes = views.FLASH_KINDS.map((kind) => [kind, session.flash(kind)]).filter(([, text]) => typeof text === 'string');
  if (cookiesOff) flashes.push(['error', COOKIES_OFF_NOTE]);
  return {
    path,
    store: d.store,
    user: session.user,
    flashes,
    signOutToken: session.user ? session.generateToken() : null,
  };
}
