import { redirect } from 'next/navigation';
import { actions, views } from 'demo-kit';
import { pageSession, shellOf } from '../../lib/page.js';
import { CsrfField, Shell } from '../shell.jsx';

export const dynamic = 'force-dynamic';

export default async function SessionsPage({ searchParams }) {
  const { d, session, save, cookiesOff } = await pageSession('/sessions', searchParams);
  if (!actions.requireUser(session)) {
    await save();
    redirect('/sign-in');
  }
  const sessions = await actions.listSessions(d.manager, session);
  const shell = shellOf(d, session, '/sessions', { cookiesOff });
  const token = session.generateToken();
  await save();
  const others = sessions.filter((s) => !s.current).length;
  return (
    <Shell shell={shell} title="Your sessions">
      <section className="card">
        <p>
          Every browser signed in as <strong>{session.user}</strong>, newest activity first.
        </p>
        <table data-testid="sessions">
          <thead>
            <tr>
              <th>Session</th>
              <th>Browser</th>
              <th>Signed in</th>
              <th>Last seen</th>
              <th>Expires</th>
            </tr>
          </thead>
          <tbody>
            {sessions.map((s) => (
              <tr key={s.idPrefix} className={s.current ? 'current' : undefined}>
                <td>
                  <code>{s.idPrefix}…</code>
                  {s.current ? (
                    <>
                      {' '}
                      <span className="badge">this browser</span>
                    </>
                  ) : null}
                </td>
                <td className="ua">{views.describeAgent(s.details.userAgent)}</td>
                <td>{views.fromNow(s.createdAt)}</td>
                <td>{views.fromNow(s.lastSeen)}</td>
                <td>{views.fromNow(s.expiresAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <form method="post" action="/api/sessions/sign-out-others">
          <CsrfField token={token} />
          <button type="submit" className="danger" disabled={others === 0}>
            Sign out everywhere else{others ? ` (${others})` : ''}
          </button>
        </form>
      </section>
    </Shell>
  );
}
