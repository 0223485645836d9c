import { html, raw } from './html.js';

/**
 * What every page needs, whichever framework serves it.
 * @typedef {object} ViewContext
 * @property {string} framework  "Express", "Koa", "Next.js"
 * @property {import('@sess/core').Session} session  read for flash messages, the user, the id
 * @property {() => string} csrfToken  a fresh token for a form's `_token` field
 * @property {{ name: string, description: string }} store
 * @property {string} path  the current path, to mark the navigation
 */

/**
 * Why the counter starts again at sign-in, shown under it (the Next.js demo
 * prints the same text).
 */
export const VISITS_NOTE = raw(
  'Signing in starts the count again at 1: <code>regenerateId()</code> gives the session a new id and fresh data, unless asked to keep it (<code>regenerateId(true)</code>). The demo starts fresh, as a sign-in usually should.',
);

/** Shown under the flash buttons after the page called reflash(). */
export const REFLASHED_NOTE = raw('This page called <code>session.reflash()</code>: the message above shows once more on the next page you open.');

/** Flash keys the demos use, in the order they are shown. */
export const FLASH_KINDS = ['success', 'notice', 'error'];

/** @param {number} ms */
export function formatTime(ms) {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** @param {number} ms @param {number} [now] */
export function fromNow(ms, now = Date.now()) {
  const s = Math.round((ms - now) / 1000);
  const abs = Math.abs(s);
  if (abs < 5) return 'just now';
  const text = abs < 60 ? `${abs} s` : abs < 3600 ? `${Math.round(abs / 60)} min` : `${(abs / 3600).toFixed(1)} h`;
  return s >= 0 ? `in ${text}` : `${text} ago`;
}

/** The session id as pages show it: enough to tell sessions apart, useless to an attacker. */
export function shortId(/** @type {string} */ id) {
  return `${id.slice(0, 8)}…`;
}

/** @param {ViewContext} v */
function csrfField(v) {
  return html`<input type="hidden" name="_token" value="${v.csrfToken()}">`;
}

/**
 * @param {ViewContext} v
 * @param {{ title: string, body: unknown, status?: number }} page
 */
export function layout(v, { title, body }) {
  const user = v.session?.user ?? null;
  const links = [
    ['/', 'Home'],
    ['/flash', 'Flash'],
    ['/session', 'This session'],
    ['/sessions', 'Your sessions'],
  ];
  const flashes = v.session ? FLASH_KINDS.map((kind) => [kind, v.session.flash(kind)]).filter(([, text]) => typeof text === 'string') : [];
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · sess ${v.framework} demo</title>
<link rel="stylesheet" href="/style.css">
<link rel="icon" href="/favicon.ico">
</head>
<body>
<header class="top">
  <a class="brand" href="/">sess <span>${v.framework} demo</span></a>
  <nav>${links.map(([href, label]) => html`<a href="${href}"${v.path === href ? html` aria-current="page"` : ''}>${label}</a>`)}</nav>
  <div class="who">${
    user
      ? html`<span>Signed in as <strong data-testid="user">${user}</strong></span>
    <form method="post" action="/sign-out">${csrfField(v)}<button class="link" type="submit">Sign out</button></form>`
      : html`<a class="button small" href="/sign-in">Sign in</a>`
  }</div>
</header>
<main>
${flashes.map(([kind, text]) => html`<p class="flash ${kind}" role="status" data-testid="flash-${kind}">${text}</p>`)}
<h1>${title}</h1>
${body}
</main>
<footer>Sessions held by <strong data-testid="store">${v.store.name}</strong> store · <a href="/session">details</a></footer>
</body>
</html>`;
}

/** @param {ViewContext} v @param {{ visits: number }} data */
export function homePage(v, { visits }) {
  const user = v.session.user;
  return layout(v, {
    title: user ? `Hello, ${user}` : 'Welcome',
    body: html`
<section class="card counter">
  <p class="big" data-testid="visits">${visits}</p>
  <p>${visits === 1 ? 'visit to this page in this session.' : 'visits to this page in this session.'} Reload to count one more: the counter lives in the session, not in the cookie.</p>
</section>
<p class="hint note" data-testid="visits-note">${VISITS_NOTE}</p>
<section class="grid">
  <a class="card" href="${user ? '/sessions' : '/sign-in'}"><h2>${user ? 'Your sessions' : 'Sign in'}</h2><p>${user ? 'See every browser signed in as you, and sign the others out.' : 'A CSRF-protected form. Signing in gives you a new session id and a one-time welcome message.'}</p></a>
  <a class="card" href="/flash"><h2>Flash messages</h2><p>Messages that live for exactly one more request, and how reflash keeps them one request longer.</p></a>
  <a class="card" href="/session"><h2>This session</h2><p>Its id (shortened), its data, when it expires and which store holds it.</p></a>
</section>`,
  });
}

/** @param {ViewContext} v @param {{ username?: string, error?: string }} [data] */
export function signInPage(v, { username = '', error } = {}) {
  return layout(v, {
    title: 'Sign in',
    body: html`
<form class="card form" method="post" action="/sign-in">
  ${csrfField(v)}
  ${error ? html`<p class="flash error" role="alert">${error}</p>` : ''}
  <label>User name <input name="username" value="${username}" autocomplete="username" required maxlength="40" autofocus></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" placeholder="any password works in the demo"></label>
  <button type="submit">Sign in</button>
  <p class="hint">The form carries a one-time CSRF token. Signing in regenerates the session id (the old one stops working), starts fresh session data (the visit counter starts again at 1) and ties the session to your user name, so <a href="/sessions">Your sessions</a> can list it.</p>
</form>`,
  });
}

/** @param {ViewContext} v @param {{ reflashed: boolean }} data */
export function flashPage(v, { reflashed }) {
  return layout(v, {
    title: 'Flash messages',
    body: html`
<section class="card">
  <p>A flash message is stored for the <em>next</em> request only: press a button, the page reloads with the message, and it is gone when you reload again.</p>
  <form method="post" action="/flash" class="row">
    ${csrfField(v)}
    <button name="mode" value="once" type="submit">Flash a message</button>
    <button name="mode" value="reflash" type="submit" class="secondary">Flash, then reflash it</button>
  </form>
  ${reflashed ? html`<p class="hint note" data-testid="reflashed">${REFLASHED_NOTE}</p>` : ''}
</section>`,
  });
}

/** @param {ViewContext} v */
export function sessionPage(v) {
  const s = v.session;
  const data = s.all();
  return layout(v, {
    title: 'This session',
    body: html`
<section class="card">
<dl class="facts">
  <dt>Session id</dt><dd><code data-testid="session-id">${s.isNew ? 'none yet (nothing stored)' : shortId(s.id)}</code></dd>
  <dt>User</dt><dd>${s.user ?? 'not signed in'}</dd>
  <dt>Created</dt><dd>${formatTime(s.createdAt)}</dd>
  <dt>Expires</dt><dd data-testid="expires">${formatTime(s.expiresAt)} (${fromNow(s.expiresAt)}, unless you come back sooner)</dd>
  <dt>Store</dt><dd data-testid="store-description">${v.store.description}</dd>
</dl>
<h2>Data</h2>
<pre data-testid="session-data">${JSON.stringify(data, null, 2)}</pre>
<p class="hint">The cookie holds only the signed id; the data above lives in the store. Ids are shown shortened: the full id is as good as a password.</p>
</section>`,
  });
}

/**
 * @param {ViewContext} v
 * @param {{ sessions: import('@sess/core').UserSessionInfo[] }} data
 */
export function sessionsPage(v, { sessions }) {
  const others = sessions.filter((s) => !s.current).length;
  return layout(v, {
    title: 'Your sessions',
    body: html`
<section class="card">
<p>Every browser signed in as <strong>${v.session.user}</strong>, newest activity first.</p>
<table data-testid="sessions">
  <thead><tr><th>Session</th><th>Browser</th><th>Signed in</th><th>Last seen</th><th>Expires</th></tr></thead>
  <tbody>${sessions.map(
    (s) => html`<tr${s.current ? html` class="current"` : ''}>
    <td><code>${s.idPrefix}…</code>${s.current ? html` <span class="badge">this browser</span>` : ''}</td>
    <td class="ua">${describeAgent(s.details.userAgent)}</td>
    <td>${fromNow(s.createdAt)}</td><td>${fromNow(s.lastSeen)}</td><td>${fromNow(s.expiresAt)}</td></tr>`,
  )}</tbody>
</table>
<form method="post" action="/sessions/sign-out-others">
  ${csrfField(v)}
  <button type="submit" class="danger"${others === 0 ? html` disabled` : ''}>Sign out everywhere else${others ? ` (${others})` : ''}</button>
</form>
</section>`,
  });
}

/**
 * @param {ViewContext} v
 * @param {{ status: number, title: string, message: string }} data
 */
export function errorPage(v, { status, title, message }) {
  return layout(v, {
    title,
    body: html`
<section class="card error-page">
  <p class="status">${status}</p>
  <p>${message}</p>
  <p><a href="/">Back to the start</a></p>
</section>`,
  });
}

/** What the user-agent string says, short: "Chrome 140 on Linux". */
export function describeAgent(/** @type {string | undefined} */ ua) {
  if (!ua) return 'unknown browser';
  const browser = /(Edg|OPR|Firefox|HeadlessChrome|Chrome|Safari)\/(\d+)/.exec(ua);
  const os = /Windows|Mac OS X|Android|iPhone|Linux/.exec(ua);
  return `${browser ? `${browser[1].replace('Edg', 'Edge').replace('OPR', 'Opera')} ${browser[2]}` : ua.slice(0, 40)}${os ? ` on ${os[0].replace('Mac OS X', 'macOS')}` : ''}`;
}

/** Messages of the shared error pages, by the error a sess adapter raised. */
export function describeError(/** @type {any} */ err) {
  if (err?.code === 'E_CSRF') {
    return { status: 403, title: 'Form refused', message: 'This form was already submitted, has expired, or came from another site (its one-time CSRF token did not validate). Go back, reload the page and try again.' };
  }
  if (err?.code === 'E_STORE' || err?.code === 'E_STORE_TIMEOUT') {
    return { status: 503, title: 'Sessions unavailable', message: 'The session store did not answer. Check that it is running and try again.' };
  }
  return { status: 500, title: 'Something went wrong', message: 'The demo hit an unexpected error; the server log has the details.' };
}
