import Fastify from 'fastify';
import formBody from '@fastify/formbody';
import { csrf, session } from '@sess/fastify';
import { actions, favicon, FAVICON_HEADERS, styleSheet, views } from 'demo-kit';

/**
 * The demo site. Pages get the session through `request.session` and the
 * CSRF token through `reply.csrfToken()`; every form post is checked by the
 * `csrf()` preHandler (the token read from the parsed body).
 * @param {{ sessionOptions: import('@sess/core').SessionManagerOptions, store: { name: string, description: string } }} setup
 */
export async function createApp({ sessionOptions, store }) {
  const app = Fastify({ logger: false });

  // Outside the session context: the stylesheet and the icon need no session, so they cost no store read.
  app.get('/style.css', (request, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=300').send(styleSheet));
  app.get('/favicon.ico', (request, reply) => reply.headers(FAVICON_HEADERS).send(favicon));

  /** @type {import('@sess/core').SessionManager | undefined} */
  let manager;

  await app.register(async (site) => {
    await site.register(formBody);
    await site.register(session, sessionOptions);
    // Every POST of the site needs a one-time token. csrf() checks it once the
    // session is loaded (in onRequest), so the 403 page still shows who is
    // signed in; the plugin's csrf: true would take the token within the load,
    // and refuse a form before request.session is set.
    site.addHook('preHandler', csrf());
    manager = site.sessionManager;

    /**
     * @param {import('fastify').FastifyRequest} request @param {import('fastify').FastifyReply} reply
     * @param {keyof typeof views} page @param {any} [data] @param {import('@sess/core').Session} [current]
     */
    const render = (request, reply, page, data, current = request.session) => {
      /** @type {import('demo-kit/src/views.js').ViewContext} */
      const view = { framework: 'Fastify', session: current, csrfToken: () => reply.csrfToken(), store, path: request.url.split('?')[0] ?? '/' };
      // Pages show per-session data: never let a cache or the back button reuse them.
      return reply
        .header('cache-control', 'no-store')
        .type('text/html; charset=utf-8')
        .send(String(/** @type {Function} */ (views[page])(view, data)));
    };
    /** @param {import('fastify').FastifyReply} reply @param {string} to */
    const seeOther = (reply, to) => reply.redirect(to, 303);
    /** @param {import('fastify').FastifyRequest} request @param {string} name */
    const field = (request, name) => /** @type {Record<string, unknown> | undefined} */ (request.body)?.[name];

    site.get('/', (request, reply) => render(request, reply, 'homePage', { visits: actions.countVisit(request.session) }));

    site.get('/sign-in', (request, reply) => render(request, reply, 'signInPage'));
    site.post('/sign-in', (request, reply) => {
      const username = field(request, 'username');
      const result = actions.signIn(request.session, { username, userAgent: request.headers['user-agent'] });
      if (result.error) return render(request, reply.code(422), 'signInPage', { username, error: result.error });
      return seeOther(reply, '/');
    });

    site.post('/sign-out', (request, reply) => {
      actions.signOut(request.session);
      return seeOther(reply, '/');
    });

    site.get('/flash', (request, reply) => render(request, reply, 'flashPage', { reflashed: actions.showFlashPage(request.session) }));
    site.post('/flash', (request, reply) => {
      actions.flashMessage(request.session, field(request, 'mode'));
      return seeOther(reply, '/flash');
    });

    site.get('/session', (request, reply) => render(request, reply, 'sessionPage'));

    site.get('/sessions', async (request, reply) => {
      if (!actions.requireUser(request.session)) return seeOther(reply, '/sign-in');
      return render(request, reply, 'sessionsPage', { sessions: await actions.listSessions(site.sessionManager, request.session) });
    });
    site.post('/sessions/sign-out-others', async (request, reply) => {
      if (!actions.requireUser(request.session)) return seeOther(reply, '/sign-in');
      await actions.signOutOthers(site.sessionManager, request.session);
      return seeOther(reply, '/sessions');
    });

    site.setNotFoundHandler((request, reply) =>
      render(request, reply.code(404), 'errorPage', { status: 404, title: 'Not found', message: `There is no page at ${request.url.split('?')[0]}.` }),
    );

    // CSRF refusals (403), store failures (503, at load or at commit: the plugin
    // sends both here) and bugs (500) as pages. A store failure shows no session,
    // so a new and a returning visitor see the same page.
    site.setErrorHandler((err, request, reply) => {
      const page = views.describeError(err);
      if (page.status === 500) console.error(err);
      const current = page.status === 503 ? undefined : (request.session ?? undefined);
      return render(request, reply.code(page.status), 'errorPage', page, /** @type {any} */ (current));
    });
  });

  await app.ready();
  return { app, manager: /** @type {import('@sess/core').SessionManager} */ (manager) };
}
