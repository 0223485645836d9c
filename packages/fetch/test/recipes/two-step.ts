// The README's two-step recipe (begin, then finish or fail), run by recipes.test.ts.
import type { Store } from '@sess/core';
const store = (globalThis as { recipeStore?: Store }).recipeStore!;
process.env.SESSION_SECRET ??= 'a-test-secret-that-is-long-enough-0123456789';
const render = (count: number) => Response.json({ count });

// #region readme
import { createSessions } from '@sess/fetch';

const sessions = createSessions({ secret: process.env.SESSION_SECRET!, store });

export async function handler(request: Request): Promise<Response> {
  let active;
  try {
    active = await sessions.begin(request);        // throws CsrfError (403) or StoreError (503)
  } catch (err) {
    return sessions.errorResponse(err, request);   // onError's page, or plain text without detail
  }
  try {
    const count = active.session.increment('count');
    return await active.finish(render(count));     // commits, then adds Set-Cookie
  } catch (err) {
    return active.fail(err);                       // rolls back, answers 500
  }
}
// #endregion
