import { views } from 'demo-kit';
import { demo } from '../../../lib/demo.js';

export const dynamic = 'force-dynamic';

const NO_STORE = { 'cache-control': 'no-store' };

/**
 * Creates the visitor's session (a route handler can set the cookie, a server
 * component cannot), checks on a second hop that the client kept the cookie,
 * and goes back. A client that did not keep it (cookies off, a plain
 * `curl -L`) is sent back with `?cookies=off`: the page then shows itself with
 * a note instead of sending it here again, so there is no redirect loop and
 * no error page.
 *
 * Pages also come here when the store fails: a route handler can answer with
 * a status, so every visitor, with a session or without, gets the same
 * styled 503 page.
 */
export async function GET(request, context) {
  const d = await demo();
  return d.withSession(
    async (req, { session }) => {
      const params = new URL(req.url).searchParams;
      const to = params.get('to') ?? '/';
      // Only paths of this site: never an open redirect.
      const target = to.startsWith('/') && !to.startsWith('//') ? to : '/';
      const redirect = (/** @type {string} */ location) => new Response(null, { status: 303, headers: { location, ...NO_STORE } });
      if (!session.isNew) return redirect(target);
      if (params.has('check')) {
        const back = new URL(target, 'http://localhost');
        back.searchParams.set('cookies', 'off');
        return redirect(back.pathname + back.search);
      }
      session.put('startedAt', Date.now());
      return redirect(`/api/start?check=1&to=${encodeURIComponent(target)}`);
    },
    {
      // A store that fails (503): the demo's page, as Express and Koa answer it.
      onError: (/** @type {any} */ err) => {
        const view = { framework: 'Next.js', session: /** @type {any} */ (undefined), csrfToken: () => '', store: d.store, path: '/api/start' };
        const page = views.errorPage(view, views.describeError(err));
        return new Response(String(page), { status: err.status, headers: { 'content-type': 'text/html; charset=utf-8', ...NO_STORE } });
      },
    },
  )(request, context);
}
