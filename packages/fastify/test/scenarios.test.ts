import fastify4 from 'fastify4';
import fastify5 from 'fastify5';
import { testAdapter } from '@sess/test-utils';
import { listen, scenarioApp } from './app.js';

for (const [name, fastify] of [['fastify 4', fastify4], ['fastify 5', fastify5]] as const) {
  testAdapter({ name, start: async (store) => listen(await scenarioApp(fastify, store)) });
  testAdapter({ name: `${name}, csrf: true`, start: async (store) => listen(await scenarioApp(fastify, store, { csrf: true })) });
}
