import { testAdapter } from '@sess/test-utils';
import { scenarioHandler, serveWithNodeHttp, serveWithNodeServer } from './app.js';

// A plain `(request) => Response` handler, as Bun.serve and Deno.serve take it, served on Node two ways.
testAdapter({ name: 'fetch handler on @hono/node-server', start: async (store) => serveWithNodeServer(scenarioHandler(store)) });
testAdapter({ name: 'fetch handler on node:http (a 30-line adapter)', start: async (store) => serveWithNodeHttp(scenarioHandler(store)) });
testAdapter({
  name: 'fetch handler with commitOnError',
  commitOnError: true,
  start: async (store) => serveWithNodeServer(scenarioHandler(store, { commitOnError: true })),
});
