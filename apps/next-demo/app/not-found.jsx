import { demo } from '../lib/demo.js';
import { Shell } from './shell.jsx';

export const dynamic = 'force-dynamic';

/**
 * The styled 404 page, as in the Express and Koa demos. It does not read the
 * session: loading one would consume its flash messages on a page nobody
 * meant to open, and a visitor without a session would be sent through
 * /api/start for a page that does not exist.
 */
export default async function NotFound() {
  const d = await demo();
  const shell = { path: '', store: d.store, user: null, flashes: [], signOutToken: null };
  return (
    <Shell shell={shell} title="Not found">
      <section className="card error-page">
        <p className="status">404</p>
        <p>There is no page at this address.</p>
        <p>
          <a href="/">Back to the start</a>
        </p>
      </section>
    </Shell>
  );
}
