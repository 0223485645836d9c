import { MemoryStore } from '@sess/core';
import { createNextSessions } from '@sess/next';

export const SECRET = process.env.SESS_BENCH_SECRET ?? 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

// Next bundles server code once per layer: one store per process, on globalThis.
// The benchmark server wraps it to count store calls (globalThis.__sessBenchCount).
const g = globalThis;
if (!g.__sessBenchStore) {
  g.__sessBenchStore = new MemoryStore();
  g.__sessBenchCount?.(g.__sessBenchStore);
}

export const { withSession } = createNextSessions({ secret: SECRET, store: g.__sessBenchStore, cookie: { secure: false } });

export const ironOptions = { password: SECRET, cookieName: 'iron', cookieOptions: { secure: false, httpOnly: true, sameSite: 'lax', maxAge: 1800 } };
