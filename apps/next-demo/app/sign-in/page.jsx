import { pageSession, shellOf } from '../../lib/page.js';
import { CsrfField, Shell } from '../shell.jsx';

export const dynamic = 'force-dynamic';

export default async function SignInPage() {
  const { d, session } = await pageSession('/sign-in');
  const shell = shellOf(d, session, '/sign-in');
  const token = session.generateToken();
  await session.save();
  return (
    <Shell shell={shell} title="Sign in">
      <form className="card form" method="post" action="/api/sign-in">
        <CsrfField token={token} />
        <label>
          User name <input name="username" autoComplete="username" required maxLength={40} autoFocus />
        </label>
        <label>
          Password <input name="password" type="password" autoComplete="current-password" placeholder="any password works in the demo" />
        </label>
        <button type="submit">Sign in</button>
        <p className="hint">
          The form carries a one-time CSRF token. Signing in regenerates the session id (the old one stops working) and ties the session to your user
          name, so <a href="/sessions">Your sessions</a> can list it.
        </p>
      </form>
    </Shell>
  );
}
