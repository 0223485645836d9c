import { actions, views } from 'demo-kit';
import { pageSession, shellOf } from '../lib/page.js';
import { Shell } from './shell.jsx';

export const dynamic = 'force-dynamic';

export default async function HomePage({ searchParams }) {
  const { d, session, save, cookiesOff } = await pageSession('/', searchParams);
  const visits = actions.countVisit(session);
  const shell = shellOf(d, session, '/', { cookiesOff });
  await save(); // a server component: only the store is written, the cookie stays
  const user = session.user;
  return (
    <Shell shell={shell} title={user ? `Hello, ${user}` : 'Welcome'}>
      <section className="card counter">
        <p className="big" data-testid="visits">
          {visits}
        </p>
        <p>
          {visits === 1 ? 'visit to this page in this session.' : 'visits to this page in this session.'} Reload to count one more: the counter lives in
          the session, not in the cookie.
        </p>
      </section>
      {/* The same text as the Express and Koa demos (demo-kit's views). */}
      <p className="hint note" data-testid="visits-note" dangerouslySetInnerHTML={{ __html: views.VISITS_NOTE.value }} />
      <section className="grid">
        <a className="card" href={user ? '/sessions' : '/sign-in'}>
          <h2>{user ? 'Your sessions' : 'Sign in'}</h2>
          <p>
            {user
              ? 'See every browser signed in as you, and sign the others out.'
              : 'A CSRF-protected form. Signing in gives you a new session id and a one-time welcome message.'}
          </p>
        </a>
        <a className="card" href="/flash">
          <h2>Flash messages</h2>
          <p>Messages that live for exactly one more request, and how reflash keeps them one request longer.</p>
        </a>
        <a className="card" href="/session">
          <h2>This session</h2>
          <p>Its id (shortened), its data, when it expires and which store holds it.</p>
        </a>
      </section>
    </Shell>
  );
}
