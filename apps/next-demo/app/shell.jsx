// The page frame, the same markup as demo-kit's layout() so the shared CSS applies.
// Plain <a> links, not <Link>: a prefetch would count as a visit and eat flash messages.

const LINKS = [
  ['/', 'Home'],
  ['/flash', 'Flash'],
  ['/session', 'This session'],
  ['/sessions', 'Your sessions'],
];

/** @param {{ shell: ReturnType<typeof import('../lib/page.js').shellOf>, title: string, children: import('react').ReactNode }} props */
export function Shell({ shell, title, children }) {
  return (
    <>
      <title>{`${title} · sess Next.js demo`}</title>
      <header className="top">
        <a className="brand" href="/">
          sess <span>Next.js demo</span>
        </a>
        <nav>
          {LINKS.map(([href, label]) => (
            <a key={href} href={href} aria-current={shell.path === href ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <div className="who">
          {shell.user ? (
            <>
              <span>
                Signed in as <strong data-testid="user">{shell.user}</strong>
              </span>
              <form method="post" action="/api/sign-out">
                <input type="hidden" name="_token" value={shell.signOutToken ?? ''} />
                <button className="link" type="submit">
                  Sign out
                </button>
              </form>
            </>
          ) : (
            <a className="button small" href="/sign-in">
              Sign in
            </a>
          )}
        </div>
      </header>
      <main>
        {shell.flashes.map(([kind, text]) => (
          <p key={kind} className={`flash ${kind}`} role="status" data-testid={`flash-${kind}`}>
            {text}
          </p>
        ))}
        <h1>{title}</h1>
        {children}
      </main>
      <footer>
        Sessions held by <strong data-testid="store">{shell.store.name}</strong> store · <a href="/session">details</a>
      </footer>
    </>
  );
}

/** @param {{ token: string }} props */
export function CsrfField({ token }) {
  return <input type="hidden" name="_token" value={token} />;
}
