// The README's React Router 7 recipes, run by recipes.test.ts through react-router's createRequestHandler.
import type { Store } from '@sess/core';
const store = (globalThis as { recipeStore?: Store }).recipeStore!;
process.env.SESSION_SECRET ??= 'a-test-secret-that-is-long-enough-0123456789';

// #region readme
// app/sessions.server.ts
import { createContext, redirect, type LoaderFunctionArgs, type ActionFunctionArgs, type MiddlewareFunction } from 'react-router';
import { createSessions, type Session } from '@sess/fetch';

type SessionData = { user: string; visits: number };
export const sessions = createSessions<SessionData>({ secret: process.env.SESSION_SECRET!, store, csrf: true });
export const sessionContext = createContext<Session<SessionData>>();

// One session per request, for every loader and action below the root
// (react-router.config.ts: future: { v8_middleware: true }; app/root.tsx: export const middleware = [sessionMiddleware]).
export const sessionMiddleware: MiddlewareFunction<Response> = async ({ request, context }, next) => {
  let active;
  try {
    active = await sessions.begin(request);
  } catch (err) {
    return sessions.errorResponse(err, request);  // 403 refused CSRF token, 503 store down
  }
  context.set(sessionContext, active.session);
  return active.finish(await next());             // a 5xx (a loader threw) rolls back
};

// app/routes/home.tsx
export async function loader({ context }: LoaderFunctionArgs) {
  const session = context.get(sessionContext);
  return { visits: session.increment('visits'), user: session.get('user') ?? null, token: session.generateToken() }; // token: the form's _token
}

// app/routes/sign-in.tsx
export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  context.get(sessionContext).regenerateId().put('user', String(form.get('user')));
  return redirect('/');
}
// #endregion

// #region readme-without-middleware
// Without middleware, where one loader or action is the only one using the session
// (each begin() loads a session of its own). Export each as `loader`.
import { data } from 'react-router';

// app/routes/api.visits.ts: a resource route answers the Response itself
export async function apiLoader({ request }: LoaderFunctionArgs) {
  return sessions.handle(request, (session) => Response.json({ visits: session.increment('visits') }));
}

// app/routes/counter.tsx: data() with the headers of finish(), Set-Cookie included
export async function pageLoader({ request }: LoaderFunctionArgs) {
  const { session, finish } = await sessions.begin(request);
  return data({ visits: session.increment('visits') }, { headers: await finish() });
}
// #endregion

declare module 'react-router' {
  interface Future {
    v8_middleware: true;
  }
}
