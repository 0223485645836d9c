import express from 'express';
import { csrf, session } from '@sess/express';
import { actions, favicon, FAVICON_HEADERS, styleSheet, views } from 'demo-kit';

/**
 * The demo site. Views get the session through `res.locals.session` and the
 * CSRF token through `res.locals.csrfToken()`, as any Express view would.
 * @param {{ sessionOptions: import('@sess/core').SessionManagerOptions, store: { name: string, description: string } }} setup
 */
export function createApp({ sessionOptions, store }) {
  const app = express();
  const sessions = session(sessionOptions);
  const { manager } = sessions;
  app.disable('x-powered-by');

  // Before session(): the stylesheet and the icon need no session, so they cost no store read.
  app.get('/style.css', (req, res) => {
    res.type('text/css').set('Cache-Control', 'public, max-age=300').send(styleSheet);
  });
  app.get('/favicon.ico', (req, res) => {
    res.set(FAVICON_HEADERS).send(favicon);
  });

  // Before session(): when the store fails while the session is saved, the
  // adapter cannot call the error middleware below (the response was held
  // until the save) and answers a plain-text 503 itself. This sends the
  // demo's 503 page instead, the one a failure while loading gets.
  app.use((req, res, next) => {
    const { writeHead, end } = res;
    let replace = false;
    res.writeHead = /** @type {any} */ (
      function (/** @type {number} */ status, /** @type {any[]} */ ...rest) {
        const headers = rest.find((arg) => arg !== null && typeof arg === 'object' && !Array.isArray(arg));
        const typeKey = headers && Object.keys(headers).find((k) => k.toLowerCase() === 'content-type');
        const type = String((typeKey && headers[typeKey]) ?? res.getHeader('content-type') ?? '');
        if (status === 503 && type.startsWith('text/plain')) {
          replace = true;
          if (typeKey) delete headers[typeKey];
          for (const k of Object.keys(headers ?? {})) if (k.toLowerCase() === 'content-length') delete headers[k];
          res.removeHeader('Content-Length');
          res.setHeader('Content-Type', 'text/html; charset=utf-8');
        }
        return writeHead.call(res, status, ...rest);
      }
    );
    res.end = /** @type {any} */ (
      function (/** @type {any[]} */ ...args) {
        if (!replace) return end.apply(res, /** @type {any} */ (args));
        const page = views.errorPage({ framework: 'Express', session: /** @type {any} */ (undefined), csrfToken: () => '', store, path: req.path }, views.describeError({ code: 'E_STORE' }));
        return end.call(res, String(page));
      }
    );
    next();
  });

  app.use(express.urlencoded({ extended: false }), sessions, csrf());

  /** @param {express.Request} req @param {express.Response} res @returns {import('demo-kit/src/views.js').ViewContext} */
  const context = (req, res) => ({
    framework: 'Express',
    session: res.locals.session,
    csrfToken: () => res.locals.csrfToken(),
    store,
    path: req.path,
  });
  /**
   * @template {keyof typeof views} P
   * @param {express.Request} req @param {express.Response} res @param {P} page @param {any} [data]
   */
  const render = (req, res, page, data) => {
    // Pages show per-session data: never let a cache or the back button reuse them.
    res.set('Cache-Control', 'no-store').type('html').send(String(/** @type {Function} */ (views[page])(context(req, res), data)));
  };

  app.get('/', (req, res) => render(req, res, 'homePage', { visits: actions.countVisit(req.session) }));

  app.get('/sign-in', (req, res) => render(req, res, 'signInPage'));
  app.post('/sign-in', (req, res) => {
    const result = actions.signIn(req.session, { username: req.body?.username, userAgent: req.get('user-agent') });
    if (result.error) {
      res.status(422);
      return render(req, res, 'signInPage', { username: req.body?.username, error: result.error });
    }
    res.redirect(303, '/');
  });

  app.post('/sign-out', (req, res) => {
    actions.signOut(req.session);
    res.redirect(303, '/');
  });

  app.get('/flash', (req, res) => render(req, res, 'flashPage', { reflashed: actions.showFlashPage(req.session) }));
  app.post('/flash', (req, res) => {
    actions.flashMessage(req.session, req.body?.mode);
    res.redirect(303, '/flash');
  });

  app.get('/session', (req, res) => render(req, res, 'sessionPage'));

  app.get('/sessions', async (req, res) => {
    if (!actions.requireUser(req.session)) return res.redirect(303, '/sign-in');
    render(req, res, 'sessionsPage', { sessions: await actions.listSessions(manager, req.session) });
  });
  app.post('/sessions/sign-out-others', async (req, res) => {
    if (!actions.requireUser(req.session)) return res.redirect(303, '/sign-in');
    await actions.signOutOthers(manager, req.session);
    res.redirect(303, '/sessions');
  });

  app.use((req, res) => {
    res.status(404);
    render(req, res, 'errorPage', { status: 404, title: 'Not found', message: `There is no page at ${req.path}.` });
  });

  // CSRF refusals (403), store failures (503) and bugs (500) as pages.
  app.use((/** @type {any} */ err, /** @type {express.Request} */ req, /** @type {express.Response} */ res, /** @type {express.NextFunction} */ next) => {
    if (res.headersSent) return next(err);
    const page = views.describeError(err);
    if (page.status === 500) console.error(err);
    res.status(page.status);
    render(req, res, 'errorPage', page);
  });

  return { app, manager };
}
