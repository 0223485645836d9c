import { views } from 'demo-kit';
import { demo } from './demo.js';

/**
 * A POST route handler for one of the demo's forms: the session (withSession),
 * the CSRF check on the `_token` field, then `handle`, which answers with the
 * path to redirect to (303). A refused token gets the same 403 page as the
 * Express and Koa demos.
 * @param {(form: { session: import('@sess/next').NextSession, fields: Record<string, string>, request: Request, demo: Awaited<ReturnType<typeof demo>> }) => Promise<string> | string} handle
 */
export function formRoute(handle) {
  return async (/** @type {Request} */ request, /** @type {any} */ context) => {
    const d = await demo();
    return d.withSession(async (req, { session }) => {
      /** @type {Record<string, string>} */
      const fields = {};
      for (const [key, value] of await req.formData()) if (typeof value === 'string') fields[key] = value;
      try {
        await d.csrfCheck(d.manager, session, { method: req.method, header: (name) => req.headers.get(name) ?? undefined, body: fields });
      } catch (err) {
        // By code, not instanceof: Next may hold more than one copy of core.
        if (/** @type {any} */ (err)?.code !== 'E_CSRF') throw err;
        const view = { framework: 'Next.js', session, csrfToken: () => session.generateToken(), store: d.store, path: new URL(req.url).pathname };
        const page = String(views.errorPage(view, views.describeError(err)));
        return new Response(page, { status: 403, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' } });
      }
      const to = await handle({ session, fields, request: req, demo: d });
      return new Response(null, { status: 303, headers: { location: to, 'cache-control': 'no-store' } });
    })(request, context);
  };
}
