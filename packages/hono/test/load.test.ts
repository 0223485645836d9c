import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { MemoryStore, type Store } from '@sess/core';
import { FileStore } from '@sess/store-file';
import { afterAll, describe, expect, it } from 'vitest';
import { runLoad } from '../../fetch/test/load.js';
import { listen, scenarioApp } from './app.js';

const dir = mkdtempSync(join(tmpdir(), 'sess-hono-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each([
  ['MemoryStore', () => new MemoryStore()],
  ['FileStore', () => new FileStore({ dir: join(dir, 'file') })],
] as Array<[string, () => Store]>)('reliability load, Hono on @hono/node-server, %s', (name, makeStore) => {
  it('50 clients x 200 overlapping requests (increments and reads): 0 lost updates, 0 5xx', { timeout: 180_000 }, async () => {
    const server = await listen(scenarioApp(Hono, makeStore()));
    try {
      const result = await runLoad(server.baseUrl, { clients: 50, requests: 200, parallel: 4 });
      console.log(`hono load, ${name}: ${JSON.stringify(result)}`);
      expect(result).toMatchObject({ serverErrors: 0, failures: 0, lostUpdates: 0, overcounted: 0 });
      expect(result.increments).toBeGreaterThan(50 * 130);
    } finally {
      await server.close();
    }
  });
});
