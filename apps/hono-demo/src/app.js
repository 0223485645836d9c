import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { csrf, session } from '@sess/hono';
import { actions, favicon, FAVICON_HEADERS, styleSheet, views } from 'demo-kit';

/**
 * The demo site. Views get the session through `c.var.session` and the CSRF
 * token through `c.var.csrfToken()`, as any Hono handler would.
 * @param {{ sessionOptions: import('@sess/core').SessionManagerOptions, store: { name: string, description: string } }} setup
 */
export function createApp({ sessionOptions, store }) {
  /** @type {Hono<import('@sess/hono').SessionEnv>} */
  const app = new Hono();
  const sessions = session(sessionOptions);
  const { manager } = sessions;

  /**
   * @param {import('hono').Context<import('@sess/hono').SessionEnv>} c
   * @param {keyof typeof views} page
   * @param {any} [data]
   * @param {number} [status]
   */
  const render = (c, page, data, status = 200) => {
    /** @type {import('demo-kit/src/views.js').ViewContext} */
    const view = { framework: 'Hono', session: c.var.session, csrfToken: () => c.var.csrfToken(), store, path: c.req.path };
    // Pages show per-session data: never let a cache or the back button reuse them.
    return c.html(String(/** @type {Function} */ (views[page])(view, data)), /** @type {200} */ (status), { 'Cache-Control': 'no-store' });
  };

  // Before session(): the stylesheet and the icon need no session, so they cost no store read.
  app.get('/style.css', (c) => c.body(styleSheet, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=300' }));
  app.get('/favicon.ico', (c) => c.body(favicon, 200, FAVICON_HEADERS));

  app.use(sessions, csrf());

  app.get('/', (c) => render(c, 'homePage', { visits: actions.countVisit(c.var.session) }));

  app.get('/sign-in', (c) => render(c, 'signInPage'));
  app.post('/sign-in', async (c) => {
    const { username } = await c.req.parseBody();
    const result = actions.signIn(c.var.session, { username, userAgent: c.req.header('user-agent') });
    if (result.error) return render(c, 'signInPage', { username, error: result.error }, 422);
    return c.redirect('/', 303);
  });

  app.post('/sign-out', (c) => {
    actions.signOut(c.var.session);
    return c.redirect('/', 303);
  });

  app.get('/flash', (c) => render(c, 'flashPage', { reflashed: actions.showFlashPage(c.var.session) }));
  app.post('/flash', async (c) => {
    actions.flashMessage(c.var.session, (await c.req.parseBody()).mode);
    return c.redirect('/flash', 303);
  });

  app.get('/session', (c) => render(c, 'sessionPage'));

  app.get('/sessions', async (c) => {
    if (!actions.requireUser(c.var.session)) return c.redirect('/sign-in', 303);
    return render(c, 'sessionsPage', { sessions: await actions.listSessions(manager, c.var.session) });
  });
  app.post('/sessions/sign-out-others', async (c) => {
    if (!actions.requireUser(c.var.session)) return c.redirect('/sign-in', 303);
    await actions.signOutOthers(manager, c.var.session);
    return c.redirect('/sessions', 303);
  });

  app.notFound((c) => render(c, 'errorPage', { status: 404, title: 'Not found', message: `There is no page at ${c.req.path}.` }, 404));

  // CSRF refusals (403) and store failures (503, at load or at commit) arrive as an
  // HTTPException whose cause is the sess error; bugs (500) as themselves.
  app.onError((err, c) => {
    const cause = err instanceof HTTPException ? err.cause : err;
    if (err instanceof HTTPException && cause === undefined) return err.getResponse(); // not ours: Hono's answer
    const page = views.describeError(cause);
    if (page.status === 500) console.error(err);
    return render(c, 'errorPage', page, page.status);
  });

  return { app, manager };
}
