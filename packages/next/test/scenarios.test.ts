import { testAdapter } from '@sess/test-utils';
import { inject } from 'vitest';

const baseUrl = inject('nextUrl');

// The app runs in `next start` (another process): it keeps its own store, which
// the suite takes down through a test route instead of its ControlledStore.
testAdapter({
  name: "next 15 App Router route handlers (withSession)",
  start: async () => ({
    baseUrl,
    close: async () => {},
    setStoreDown: async (down) => {
      const response = await fetch(new URL(`/api/test-store?down=${down ? 1 : 0}`, baseUrl), { method: 'POST' });
      if (!response.ok) throw new Error(`could not switch the fixture store: ${response.status}`);
    },
  }),
});

// The same suite through the Pages Router (withSessionRoute, Next's own res.redirect),
// routed there by the fixture's middleware.
testAdapter({
  name: 'next 15 Pages Router API routes (withSessionRoute)',
  start: async () => ({
    baseUrl,
    headers: { 'x-sess-router': 'pages' },
    close: async () => {},
    setStoreDown: async (down) => {
      const response = await fetch(new URL(`/api/test-store?down=${down ? 1 : 0}`, baseUrl), { method: 'POST' });
      if (!response.ok) throw new Error(`could not switch the fixture store: ${response.status}`);
    },
  }),
});
