import { testScenarios } from '@sess/test-utils';
import { inject } from 'vitest';

const baseUrl = inject('nextUrl');

// The app runs in `next start` (another process): it keeps its own store, which
// the suite takes down through a test route instead of its ControlledStore.
testScenarios({
  name: 'next 15 route handlers (withSession)',
  start: async () => ({
    baseUrl,
    close: async () => {},
    setStoreDown: async (down) => {
      const response = await fetch(new URL(`/api/test-store?down=${down ? 1 : 0}`, baseUrl), { method: 'POST' });
      if (!response.ok) throw new Error(`could not switch the fixture store: ${response.status}`);
    },
  }),
});
