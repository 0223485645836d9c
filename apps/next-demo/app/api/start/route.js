import { demo } from '../../../lib/demo.js';

export const dynamic = 'force-dynamic';

/** Creates the visitor's session (a route handler can set the cookie) and goes back. */
export async function GET(request, context) {
  const d = await demo();
  return d.withSession(async (req, { session }) => {
    if (session.isNew) session.put('startedAt', Date.now());
    const to = new URL(req.url).searchParams.get('to') ?? '/';
    // Only paths of this site: never an open redirect.
    const target = to.startsWith('/') && !to.startsWith('//') ? to : '/';
    return new Response(null, { status: 303, headers: { location: target, 'cache-control': 'no-store' } });
  })(request, context);
}
