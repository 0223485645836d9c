import koa2 from 'koa2';
import koa3 from 'koa3';
import { testAdapter } from '@sess/test-utils';
import { listen, scenarioApp } from './app.js';

for (const [name, Koa] of [['koa 2', koa2], ['koa 3', koa3]] as const) {
  testAdapter({ name, start: async (store) => listen(scenarioApp(Koa, store)) });
}
