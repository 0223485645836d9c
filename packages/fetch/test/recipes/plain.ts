// The README's "Bun.serve, Deno.serve, or any (request) => Response" recipe, run by recipes.test.ts.
import type { Store } from '@sess/core';
const store = (globalThis as { recipeStore?: Store }).recipeStore!;
process.env.SESSION_SECRET ??= 'a-test-secret-that-is-long-enough-0123456789';

// #region readme
import { createSessions } from '@sess/fetch';

const sessions = createSessions<{ user: string; visits: number }>({
  secret: process.env.SESSION_SECRET!,
  store,                                            // e.g. new RedisStore({ client }) from @sess/store-redis
  csrf: true,                                       // POST, PUT, PATCH, DELETE need a token from csrfToken()
});

export function fetchHandler(request: Request): Promise<Response> {
  return sessions.handle(request, async (session, { csrfToken }) => {
    const { pathname } = new URL(request.url);
    if (request.method === 'POST' && pathname === '/sign-in') {
      const form = await request.formData();
      session.regenerateId().put('user', String(form.get('user')));
      return Response.redirect(new URL('/', request.url), 303);
    }
    const visits = session.increment('visits');
    const user = session.get('user') ?? 'stranger';
    return new Response(
      `<p>Hello ${user}, visit ${visits}</p>
       <form method="post" action="/sign-in">
         <input type="hidden" name="_token" value="${csrfToken()}"><input name="user"><button>Sign in</button>
       </form>`,
      { headers: { 'content-type': 'text/html; charset=utf-8' } },
    );
  });
}
// #endregion
