import { Hono as honoLowest } from 'hono-lowest';
import { Hono as honoLatest } from 'hono-latest';
import { serve as serve2 } from 'hono-node-server-2';
import { testAdapter } from '@sess/test-utils';
import { listen, scenarioApp } from './app.js';

for (const [name, Hono] of [
  ['hono 4.6', honoLowest],
  ['hono 4 (newest)', honoLatest],
] as const) {
  testAdapter({ name: `${name}, csrf()`, start: async (store) => listen(scenarioApp(Hono, store)) });
  testAdapter({ name: `${name}, session({ csrf: true })`, start: async (store) => listen(scenarioApp(Hono, store, 'option')) });
}
testAdapter({ name: 'hono 4 (newest), commitOnError', commitOnError: true, start: async (store) => listen(scenarioApp(honoLatest, store, 'middleware', true)) });
testAdapter({ name: 'hono 4 (newest) on @hono/node-server 2', start: async (store) => listen(scenarioApp(honoLatest, store), serve2) });
