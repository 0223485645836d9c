import fastify4 from 'fastify4';
import fastify5 from 'fastify5';
import { testAdapter } from '@sess/test-utils';
import { listen, scenarioApp } from './app.js';

for (const [name, fastify] of [['fastify 4', fastify4], ['fastify 5', fastify5]] as const) {
  testAdapter({ name, start: async (store) => listen(await scenarioApp(fastify, store)) });
  // The token checked in the load (preValidation), csrf() deferring to it.
  testAdapter({ name: `${name}, csrf: true`, start: async (store) => listen(await scenarioApp(fastify, store, { csrf: true })) });
}

// Sessions without a store: the same suite where its semantics allow (no revocation, no outage).
testAdapter({ name: "fastify 5, store: 'cookie'", storeless: true, start: async (store) => listen(await scenarioApp(fastify5, store, { store: 'cookie' })) });
