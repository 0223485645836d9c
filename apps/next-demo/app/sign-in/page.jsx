import { pageSession, shellOf } from '../../lib/page.js';
import { CsrfField, Shell } from '../shell.jsx';

export const dynamic = 'force-dynamic';

export default async function SignInPage({ searchParams }) {
  const { d, session, save, cookiesOff } = await pageSession('/sign-in', searchParams);
  const shell = shellOf(d, session, '/sign-in', { cookiesOff });
  const token = session.generateToken();
  await save();
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
          The form carries a one-time CSRF token. Signing in regenerates the session id (the old one stops working), starts fresh session data (the visit
          counter starts again at 1) and ties the session to your user name, so <a href="/sessions">Your sessions</a> can list it.
        </p>
      </form>
    </Shell>
  );
}
