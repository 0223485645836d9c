import { SessionError } from '@sess/core';

/**
 * The cookie must change (a new, regenerated or destroyed session) where Next
 * lets no cookie be set: while a server component renders, or after a Pages
 * Router response has started.
 */
export function cookieNotWritable(where: 'server-component' | 'headers-sent', cause?: unknown): SessionError {
  const message =
    where === 'server-component'
      ? '[sess] cannot set the session cookie while a server component renders: Next.js allows cookies only in server actions, route handlers and middleware. Create, regenerate or destroy the session there (a sign-in form action, a route handler), and in server components only read or change data of an existing session.'
      : '[sess] cannot set the session cookie: the response headers were already sent. Call `await session.save()` before writing the response.';
  return new SessionError(message, { code: 'E_COOKIE_NOT_WRITABLE', status: 500, cause });
}
