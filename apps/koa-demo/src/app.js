import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import { csrf, session } from '@sess/koa';
import { actions, favicon, FAVICON_HEADERS, styleSheet, views } from 'demo-kit';

/**
 * The demo site. Views get the session through `ctx.state.session` and the
 * CSRF token through `ctx.state.csrfToken()`, as any Koa view would.
 * @param {{ sessionOptions: import('@sess/core').SessionManagerOptions, store: { name: string, description: string } }} setup
 */
export function createApp({ sessionOptions, store }) {
  const app = new Koa();
  const sessions = session(sessionOptions);
  const { manager } = sessions;
  const router = new Router();

  /** @param {Koa.Context} ctx @param {string} page @param {any} [data] */
  const render = (ctx, page, data) => {
    /** @type {import('demo-kit/src/views.js').ViewContext} */
    const view = { framework: 'Koa', session: ctx.state.session, csrfToken: () => ctx.state.csrfToken(), store, path: ctx.path };
    // Pages show per-session data: never let a cache or the back button reuse them.
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'html';
    ctx.body = String(/** @type {Function} */ (views[/** @type {keyof typeof views} */ (page)])(view, data));
  };
  /** @param {Koa.Context} ctx @param {string} to */
  const seeOther = (ctx, to) => {
    ctx.redirect(to);
    ctx.status = 303;
  };

  /** CSRF refusals (403), store failures (503) and bugs (500) as pages. @type {Koa.Middleware} */
  const errorPages = async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const page = views.describeError(err);
      if (page.status === 500) console.error(err);
      render(ctx, 'errorPage', page);
      ctx.status = page.status;
    }
  };

  router.get('/', (ctx) => render(ctx, 'homePage', { visits: actions.countVisit(ctx.session) }));

  router.get('/sign-in', (ctx) => render(ctx, 'signInPage'));
  router.post('/sign-in', (ctx) => {
    const body = /** @type {Record<string, unknown>} */ (ctx.request.body ?? {});
    const result = actions.signIn(ctx.session, { username: body.username, userAgent: ctx.get('user-agent') });
    if (result.error) {
      render(ctx, 'signInPage', { username: body.username, error: result.error });
      ctx.status = 422;
      return;
    }
    seeOther(ctx, '/');
  });

  router.post('/sign-out', (ctx) => {
    actions.signOut(ctx.session);
    seeOther(ctx, '/');
  });

  router.get('/flash', (ctx) => render(ctx, 'flashPage', { reflashed: actions.showFlashPage(ctx.session) }));
  router.post('/flash', (ctx) => {
    actions.flashMessage(ctx.session, /** @type {any} */ (ctx.request.body)?.mode);
    seeOther(ctx, '/flash');
  });

  router.get('/session', (ctx) => render(ctx, 'sessionPage'));

  router.get('/sessions', async (ctx) => {
    if (!actions.requireUser(ctx.session)) return seeOther(ctx, '/sign-in');
    render(ctx, 'sessionsPage', { sessions: await actions.listSessions(manager, ctx.session) });
  });
  router.post('/sessions/sign-out-others', async (ctx) => {
    if (!actions.requireUser(ctx.session)) return seeOther(ctx, '/sign-in');
    await actions.signOutOthers(manager, ctx.session);
    seeOther(ctx, '/sessions');
  });

  app
    // Outside session(): a store that fails while loading still gets a page.
    .use(errorPages)
    // Before session(): the stylesheet and the icon need no session, so they cost no store read.
    .use(async (ctx, next) => {
      if (ctx.path === '/style.css') {
        ctx.type = 'text/css';
        ctx.set('Cache-Control', 'public, max-age=300');
        ctx.body = styleSheet;
      } else if (ctx.path === '/favicon.ico') {
        ctx.set(FAVICON_HEADERS);
        ctx.body = favicon;
      } else {
        return next();
      }
    })
    .use(sessions)
    // Inside session(): a handled error (a refused form) still commits the session.
    .use(errorPages)
    .use(bodyParser({ enableTypes: ['form'] }))
    .use(csrf())
    .use(router.routes())
    .use(router.allowedMethods())
    .use((ctx) => {
      render(ctx, 'errorPage', { status: 404, title: 'Not found', message: `There is no page at ${ctx.path}.` });
      ctx.status = 404;
    });

  return { app, manager };
}
