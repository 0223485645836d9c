import express4 from 'express4';
import express5 from 'express5';
import { testAdapter } from '@sess/test-utils';
import { listen, scenarioApp } from './app.js';

for (const [name, express] of [['express 4', express4], ['express 5', express5]] as const) {
  testAdapter({ name, start: async (store) => listen(scenarioApp(express as any, store)) });
}

// Sessions without a store: the same suite where its semantics allow (no revocation, no outage).
testAdapter({ name: "express 5, store: 'cookie'", storeless: true, start: async () => listen(scenarioApp(express5 as any, 'cookie')) });
