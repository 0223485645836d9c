import { views } from 'demo-kit';
import { demo } from '../../../lib/demo.js';

export const dynamic = 'force-dynamic';

/**
 * Creates the visitor's session (a route handler can set the cookie, a server
 * component cannot), checks on a second hop that the browser kept the cookie,
 * and goes back. Why the check: a browser that refuses cookies would otherwise
 * bounce between the page and this route forever.
 */
export async function GET(request, context) {
  const d = await demo();
  return d.withSession(async (req, { session }) => {
    const params = new URL(req.url).searchParams;
    const to = params.get('to') ?? '/';
    // Only paths of this site: never an open redirect.
    const target = to.startsWith('/') && !to.startsWith('//') ? to : '/';
    const redirect = (/** @type {string} */ location) => new Response(null, { status: 303, headers: { location, 'cache-control': 'no-store' } });
    if (!session.isNew) return redirect(target);
    if (params.has('check')) {
      const view = { framework: 'Next.js', session, csrfToken: () => '', store: d.store, path: '/api/start' };
      const page = views.errorPage(view, { status: 400, title: 'Cookies are off', message: 'Your browser did not keep the session cookie, so the demo cannot remember you. Allow cookies for 127.0.0.1 and reload.' });
      return new Response(String(page), { status: 400, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' } });
    }
    session.put('startedAt', Date.now());
    return redirect(`/api/start?check=1&to=${encodeURIComponent(target)}`);
  })(request, context);
}
