/**
 * Type tests (compiled, never run): `request.session` typed by declaration
 * merging (the plugin's `FastifyRequest.session`, the app's `SessionData`) and
 * through the generic (`sessionOf<Data>()`), against Fastify 5's types
 * (tsconfig.v5.json) and Fastify 4's (tsconfig.v4.json maps `fastify` to 4).
 */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { Session, SessionManager } from '@sess/core';
import { csrf, session, sessionOf } from '@sess/fastify';

declare module '@sess/core' {
  interface SessionData {
    userId: string;
    visits: number;
    cart?: string[];
  }
}

const app = Fastify();
await app.register(session, { secret: process.env.SESSION_SECRET!, csrf: true, commitOnError: false });
// @ts-expect-error: csrf is a boolean or CsrfOptions
void app.register(session, { secret: 'x', csrf: 'yes' });

app.get('/', async (request: FastifyRequest, reply: FastifyReply) => {
  const current: Session = request.session;
  const visits: number = current.increment('visits');
  const user: string | undefined = request.session.get('userId');
  // @ts-expect-error: a string where a number is declared
  request.session.put('visits', 'nope');
  // @ts-expect-error: not a key of SessionData
  request.session.put('typo', 1);
  // @ts-expect-error: not a numeric key
  request.session.increment('userId');
  const token: string = reply.csrfToken();
  const cart = sessionOf<{ cart: string[]; coupon?: string }>(request);
  const items: readonly string[] = cart.get('cart', []);
  // @ts-expect-error: not a key of the generic's data
  cart.get('visits');
  return { visits, user, token, items };
});

app.post('/transfer', { preHandler: csrf({ origins: ['https://example.com'] }) }, async () => ({ ok: true }));
app.addHook('preHandler', csrf());

const manager: SessionManager = app.sessionManager;
void manager.listSessions('ada');
