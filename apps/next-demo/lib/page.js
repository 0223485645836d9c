import { redirect } from 'next/navigation';
import { views } from 'demo-kit';
import { demo } from './demo.js';

/**
 * The session of a page (a server component). Server components cannot set
 * cookies, so a visitor without a session is sent once through /api/start, a
 * route handler that creates one, and back.
 * @param {string} path
 */
export async function pageSession(path) {
  const d = await demo();
  const session = await d.getSession();
  if (session.isNew) redirect(`/api/start?to=${encodeURIComponent(path)}`);
  return { d, session };
}

/**
 * What the shell of every page shows. Call before `session.save()`: it may
 * generate the sign-out form's CSRF token.
 * @param {Awaited<ReturnType<typeof demo>>} d
 * @param {import('@sess/next').NextSession} session
 * @param {string} path
 */
export function shellOf(d, session, path) {
  return {
    path,
    store: d.store,
    user: session.user,
    flashes: views.FLASH_KINDS.map((kind) => [kind, session.flash(kind)]).filter(([, text]) => typeof text === 'string'),
    signOutToken: session.user ? session.generateToken() : null,
  };
}
