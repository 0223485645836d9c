/**
 * What each demo page does to the session, written once for the three demos:
 * the apps only translate their framework's request into these calls.
 */

/** @typedef {import('@sess/core').Session} Session */

/** Home page: one more visit. @param {Session} session @returns {number} */
export function countVisit(session) {
  return session.increment('visits');
}

/**
 * Signs in: a new session id (the old one dies, so a planted id is useless),
 * the session tied to the user for "Your sessions", a one-time welcome.
 * Any password is accepted: this is a demo of sessions, not of passwords.
 * @param {Session} session
 * @param {{ username?: unknown, userAgent?: string }} form
 * @returns {{ error: string } | { error?: undefined, username: string }}
 */
export function signIn(session, { username, userAgent }) {
  const name = typeof username === 'string' ? username.trim() : '';
  if (name === '' || name.length > 40) return { error: 'Enter a user name of 1 to 40 characters.' };
  session.regenerateId();
  session.setUser(name, { userAgent: userAgent ?? '' });
  session.put('signedInAt', Date.now());
  session.flash('success', `Welcome back, ${name}!`);
  return { username: name };
}

/** Sign-out: the record is deleted and the cookie expired. @param {Session} session */
export function signOut(session) {
  session.destroy();
  // Put after destroy(): starts a fresh session that carries only this message.
  session.flash('success', 'You are signed out.');
}

/**
 * The flash page's buttons. "reflash" also flashes a marker that makes the
 * next page call reflash(), so the message is shown on two pages, then gone.
 * @param {Session} session
 * @param {unknown} mode
 */
export function flashMessage(session, mode) {
  const time = new Date().toISOString().slice(11, 19);
  if (mode === 'reflash') {
    session.flash('notice', `Flashed at ${time} UTC and reflashed: you see it here and on the next page, then it is gone.`);
    session.flash('reflash', true);
  } else {
    session.flash('notice', `Flashed at ${time} UTC: reload and it is gone.`);
  }
}

/**
 * The flash page itself: keeps the notice one more request when asked.
 * @param {Session} session
 * @returns {boolean} whether it reflashed
 */
export function showFlashPage(session) {
  if (session.flash('reflash') !== true) return false;
  session.reflash(['notice']);
  return true;
}

/**
 * Pages for signed-in users: sends the others to the sign-in page.
 * @param {Session} session
 * @returns {boolean} whether the user is signed in
 */
export function requireUser(session) {
  if (session.user) return true;
  session.flash('error', 'Sign in to see your sessions.');
  return false;
}

/**
 * "Sign out everywhere else": deletes every other session of this user.
 * @param {import('@sess/core').SessionManager<any>} manager
 * @param {Session} session
 */
export async function signOutOthers(manager, session) {
  const user = /** @type {string} */ (session.user);
  const count = await manager.destroySessions(user, { except: session });
  session.flash('success', count === 1 ? 'Signed out 1 other session.' : `Signed out ${count} other sessions.`);
  return count;
}

/**
 * @param {import('@sess/core').SessionManager<any>} manager
 * @param {Session} session
 */
export function listSessions(manager, session) {
  return manager.listSessions(/** @type {string} */ (session.user), { current: session });
}
