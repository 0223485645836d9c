import { actions, views } from 'demo-kit';
import { pageSession, shellOf } from '../../lib/page.js';
import { CsrfField, Shell } from '../shell.jsx';

export const dynamic = 'force-dynamic';

export default async function FlashPage({ searchParams }) {
  const { d, session, save, cookiesOff } = await pageSession('/flash', searchParams);
  const reflashed = actions.showFlashPage(session);
  const shell = shellOf(d, session, '/flash', { cookiesOff });
  const token = session.generateToken();
  await save();
  return (
    <Shell shell={shell} title="Flash messages">
      <section className="card">
        <p>
          A flash message is stored for the <em>next</em> request only: press a button, the page reloads with the message, and it is gone when you
          reload again.
        </p>
        <form method="post" action="/api/flash" className="row">
          <CsrfField token={token} />
          <button name="mode" value="once" type="submit">
            Flash a message
          </button>
          <button name="mode" value="reflash" type="submit" className="secondary">
            Flash, then reflash it
          </button>
        </form>
        {reflashed ? <p className="hint note" data-testid="reflashed" dangerouslySetInnerHTML={{ __html: views.REFLASHED_NOTE.value }} /> : null}
      </section>
    </Shell>
  );
}
