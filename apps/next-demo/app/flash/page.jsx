import { actions } from 'demo-kit';
import { pageSession, shellOf } from '../../lib/page.js';
import { CsrfField, Shell } from '../shell.jsx';

export const dynamic = 'force-dynamic';

export default async function FlashPage() {
  const { d, session } = await pageSession('/flash');
  const reflashed = actions.showFlashPage(session);
  const shell = shellOf(d, session, '/flash');
  const token = session.generateToken();
  await session.save();
  return (
    <Shell shell={shell} title="Flash messages">
      <section className="card">
        <p>
          A flash message is stored for the <em>next</em> request only: press a button, the page reloads with the message, and it is gone when you
          reload again.
        </p>
        {reflashed ? (
          <p className="hint" data-testid="reflashed">
            This page called <code>session.reflash()</code>: the message above shows once more on the next page you open.
          </p>
        ) : null}
        <form method="post" action="/api/flash" className="row">
          <CsrfField token={token} />
          <button name="mode" value="once" type="submit">
            Flash a message
          </button>
          <button name="mode" value="reflash" type="submit" className="secondary">
            Flash, then reflash it
          </button>
        </form>
      </section>
    </Shell>
  );
}
