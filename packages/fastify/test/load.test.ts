/**
 * The reliability load over real HTTP: 50 clients, each on its own session,
 * each sending 200 requests of which 4 overlap, mixing increments and reads.
 * A lost update shows as a counter below the client's answered increments; a
 * conflict the lifecycle failed to resolve, as a 5xx.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastify4 from 'fastify4';
import fastify5 from 'fastify5';
import type { Store } from '@sess/core';
import { ControlledStore } from '@sess/test-utils';
import { FileStore } from '@sess/store-file';
import { session } from '@sess/fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { type Fastify, SECRET, listen } from './app.js';

const CLIENTS = 50;
const REQUESTS = 200;
const PARALLEL = 4;

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
afterAll(() => agent.destroy());

function send(baseUrl: string, path: string, cookie?: string): Promise<{ status: number; body: any; cookie?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(baseUrl + path, { agent, headers: cookie ? { cookie } : {}, timeout: 15_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const set = res.headers['set-cookie']?.find((c) => c.startsWith('sess='));
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // an error page: keep the text
        }
        resolve({ status: res.statusCode ?? 0, body, cookie: set?.split(';')[0] });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: no answer in 15 s`)));
    req.on('error', reject);
    req.end();
  });
}

async function runLoad(baseUrl: string) {
  let serverErrors = 0;
  let failures = 0;
  let lost = 0;
  const client = async () => {
    const first = await send(baseUrl, '/increment');
    if (first.status !== 200 || !first.cookie) throw new Error(`the first request answered ${first.status}`);
    const cookie = first.cookie;
    let increments = 1;
    let next = 1;
    const lane = async () => {
      while (next < REQUESTS) {
        const n = next++;
        const path = n % 3 === 2 ? '/read' : '/increment'; // two increments, one read
        const response = await send(baseUrl, path, cookie);
        if (response.status >= 500) serverErrors++;
        if (response.status !== 200) failures++;
        else if (path === '/increment') increments++;
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, lane));
    const check = await send(baseUrl, '/read', cookie);
    lost += increments - Number(check.body.counter ?? 0);
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, client));
  return { serverErrors, failures, lost, seconds: Math.round((performance.now() - started) / 100) / 10 };
}

async function start(fastify: Fastify, store: Store) {
  const app = fastify({ logger: false });
  await app.register(session, { secret: SECRET, store, cookie: { secure: false } });
  app.get('/increment', async (request) => ({ counter: request.session.increment('counter') }));
  app.get('/read', async (request) => ({ counter: request.session.get('counter') ?? 0 }));
  return listen(app);
}

// The FileStore run (about 30 s on 2 cores) tests the store's locking, not the major: once, on Fastify 5.
describe.each([
  ['fastify 4', fastify4 as Fastify, false],
  ['fastify 5', fastify5 as Fastify, true],
] as const)(`%s: reliability load (${CLIENTS} clients x ${REQUESTS} requests, ${PARALLEL} overlapping)`, (_name, fastify, withFileStore) => {
  it('MemoryStore with 1 ms per store call: 0 lost updates, 0 5xx', async () => {
    const store = new ControlledStore();
    store.latencyMs = 1;
    const server = await start(fastify, store);
    try {
      const result = await runLoad(server.baseUrl);
      expect(result).toMatchObject({ serverErrors: 0, failures: 0, lost: 0 });
    } finally {
      await server.close();
    }
  }, 180_000);

  if (withFileStore) it('FileStore in a temporary folder: 0 lost updates, 0 5xx', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sess-fastify-load-'));
    const store = new FileStore({ dir });
    const server = await start(fastify, store);
    try {
      const result = await runLoad(server.baseUrl);
      expect(result).toMatchObject({ serverErrors: 0, failures: 0, lost: 0 });
    } finally {
      await server.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
