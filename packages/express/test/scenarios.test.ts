import express4 from 'express4';
import express5 from 'express5';
import { testAdapter } from '@sess/test-utils';
import { listen, scenarioApp } from './app.js';

for (const [name, express] of [['express 4', express4], ['express 5', express5]] as const) {
  testAdapter({ name, start: async (store) => listen(scenarioApp(express as any, store)) });
}
