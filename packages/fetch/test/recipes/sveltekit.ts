// The README's SvelteKit recipe, run by recipes.test.ts with a hand-built event (SvelteKit is not installed).
import type { Store } from '@sess/core';
const store = (globalThis as { recipeStore?: Store }).recipeStore!;
process.env.SESSION_SECRET ??= 'a-test-secret-that-is-long-enough-0123456789';
// Stand-ins for the two types of @sveltejs/kit the recipe uses.
export type RequestEvent = { request: Request; url: URL; locals: App.Locals };
type Handle = (input: { event: RequestEvent; resolve: (event: RequestEvent) => Promise<Response> }) => Promise<Response>;

// src/hooks.server.ts
// #region readme
import { createSessions, type Session } from '@sess/fetch';

type SessionData = { user: string; visits: number };
const sessions = createSessions<SessionData>({ secret: process.env.SESSION_SECRET!, store });

export const handle: Handle = ({ event, resolve }) =>
  sessions.handle(event.request, (session, { csrfToken }) => {
    event.locals.session = session;               // load functions and actions: event.locals.session
    event.locals.csrfToken = csrfToken;
    return resolve(event);                        // the page, a redirect, or an error page (a 5xx rolls back)
  });

// src/app.d.ts
declare global {
  namespace App {
    interface Locals {
      session: Session<SessionData>;
      csrfToken: () => string;
    }
  }
}
// #endregion
