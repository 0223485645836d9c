import { testAdapter } from '@sess/test-utils';
import { inject } from 'vitest';

const baseUrl = inject('nextUrl');
// "next 15" or "next 16": the same file runs in test/next16 against Next 16.
const next = `next ${inject('nextVersion').split('.')[0]}`;

// The app runs in `next start` (another process): it keeps its own store, which
// the suite takes down through a test route instead of its ControlledStore.
testAdapter({
  name: `${next} App Router route handlers (withSession)`,
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
// routed there by the fixture's middleware (proxy.ts on Next 16).
testAdapter({
  name: `${next} Pages Router API routes (withSessionRoute)`,
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
