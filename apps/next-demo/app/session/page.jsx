import { views } from 'demo-kit';
import { pageSession, shellOf } from '../../lib/page.js';
import { Shell } from '../shell.jsx';

export const dynamic = 'force-dynamic';

export default async function SessionPage({ searchParams }) {
  const { d, session, save, cookiesOff } = await pageSession('/session', searchParams);
  const shell = shellOf(d, session, '/session', { cookiesOff });
  const data = session.all();
  await save();
  return (
    <Shell shell={shell} title="This session">
      <section className="card">
        <dl className="facts">
          <dt>Session id</dt>
          <dd>
            <code data-testid="session-id">{views.shortId(session.id)}</code>
          </dd>
          <dt>User</dt>
          <dd>{session.user ?? 'not signed in'}</dd>
          <dt>Created</dt>
          <dd>{views.formatTime(session.createdAt)}</dd>
          <dt>Expires</dt>
          <dd data-testid="expires">
            {views.formatTime(session.expiresAt)} ({views.fromNow(session.expiresAt)}, unless you come back sooner)
          </dd>
          <dt>Store</dt>
          <dd data-testid="store-description">{d.store.description}</dd>
        </dl>
        <h2>Data</h2>
        <pre data-testid="session-data">{JSON.stringify(data, null, 2)}</pre>
        <p className="hint">
          The cookie holds only the signed id; the data above lives in the store. Ids are shown shortened: the full id is as good as a password.
        </p>
      </section>
    </Shell>
  );
}
