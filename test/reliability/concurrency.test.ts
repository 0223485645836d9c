/**
 * Concurrency through a real Express server on every real store: no lost
 * update, no resurrected session, a CSRF token and a flash value used once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type OpenBackend } from './helpers/backends.js';
import { cookieOf, send, startServer, type TestServer } from './helpers/app.js';
import { Figures } from './helpers/figures.js';
import { runLoad } from './helpers/load.js';

const figures = new Figures('concurrency', 'Concurrency through Express');
const CLIENTS = 50;
const PARALLEL = 4; // overlapping requests of one session
const only = process.env.SESS_REL_BACKENDS?.split(',');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const backend of BACKENDS.filter((b) => !only || only.includes(b.name))) {
  const available = await backend.available();
  describe.skipIf(!available)(`${backend.name}: concurrency through Express`, () => {
    let open: OpenBackend;
    let server: TestServer;
    const row: Record<string, number | string> = {};

    beforeAll(async () => {
      open = await backend.open();
      server = await startServer(open.store);
    });
    afterAll(async () => {
      figures.record(backend.name, row);
      await server?.close();
      await open?.close();
    });

    /** A stored session: its cookie and id. */
    const newSession = async () => {
      const r = await send(server.baseUrl, '/put?key=seed&value=1');
      expect(r.status).toBe(200);
      return { cookie: cookieOf(r.setCookie)!, id: r.body.id as string };
    };

    it(`${CLIENTS} clients, each on its own session with ${PARALLEL} overlapping requests: every counter exact, every key present, no 5xx`, async () => {
      const requests = Number(process.env.SESS_REL_REQUESTS) || backend.requestsPerClient;
      const result = await runLoad(server.baseUrl, { clients: CLIENTS, requests, parallel: PARALLEL });
      Object.assign(row, result);
      expect(server.unexpected).toEqual([]);
      expect(result).toMatchObject({ failures: 0, serverErrors: 0, lostIncrements: 0, missingKeys: 0 });
    });

    it('50 overlapping increments of one session end at exactly 50', async () => {
      const { cookie } = await newSession();
      const answers = await Promise.all(Array.from({ length: 50 }, () => send(server.baseUrl, '/increment', { cookie })));
      expect(answers.map((a) => a.status).filter((s) => s !== 200)).toEqual([]);
      const after = await send(server.baseUrl, '/all', { cookie });
      row.overlappingIncrements = after.body.all.n;
      expect(after.body.all.n).toBe(50);
    });

    it('slow requests that began before a sign-out and end after it do not bring the session back', async () => {
      const rounds = 5;
      let resurrected = 0;
      for (let i = 0; i < rounds; i++) {
        const { cookie, id } = await newSession();
        const slow = Array.from({ length: 3 }, () => send(server.baseUrl, '/slow?ms=300', { cookie }));
        await sleep(100);
        const out = await send(server.baseUrl, '/signout', { cookie });
        expect(out.status).toBe(200);
        expect(out.setCookie.join()).toMatch(/Max-Age=0|Expires=Thu, 01 Jan 1970/i);
        const slowAnswers = await Promise.all(slow);
        expect(slowAnswers.map((a) => a.status)).toEqual([200, 200, 200]);
        if ((await open.store.get(id)) !== undefined) resurrected++;
        const again = await send(server.baseUrl, '/all', { cookie });
        expect(again.body.isNew).toBe(true);
        expect(again.body.id).not.toBe(id);
        expect(again.body.all).toEqual({});
      }
      row.signoutRounds = rounds;
      row.resurrected = resurrected;
      expect(resurrected).toBe(0);
    });

    it('of two overlapping POSTs with one CSRF token exactly one passes, and the token never passes again', async () => {
      const { cookie } = await newSession();
      const rounds = 10;
      let passed = 0;
      let replaysPassed = 0;
      for (let i = 0; i < rounds; i++) {
        const { body } = await send(server.baseUrl, '/csrf/token', { cookie });
        const post = () => send(server.baseUrl, '/csrf/submit', { cookie, method: 'POST', headers: { 'x-csrf-token': body.token } });
        const statuses = (await Promise.all([post(), post()])).map((r) => r.status).sort();
        expect(statuses).toEqual([200, 403]);
        passed += statuses.filter((s) => s === 200).length;
        const replay = await post();
        expect(replay.status).toBe(403);
        if (replay.status === 200) replaysPassed++;
      }
      row.csrfRounds = rounds;
      row.csrfPassesPerToken = passed / rounds;
      row.csrfReplaysPassed = replaysPassed;
    });

    it('a flash value set by one request is delivered to exactly one of the overlapping later requests', async () => {
      const { cookie } = await newSession();
      const rounds = 10;
      let deliveries = 0;
      for (let i = 0; i < rounds; i++) {
        expect((await send(server.baseUrl, `/flash/set?value=v${i}`, { cookie })).status).toBe(200);
        const reads = await Promise.all(Array.from({ length: 8 }, () => send(server.baseUrl, '/flash/read', { cookie })));
        expect(reads.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
        const seen = reads.filter((r) => r.body.notice === `v${i}`).length;
        expect(seen).toBe(1);
        deliveries += seen;
      }
      row.flashRounds = rounds;
      row.flashDeliveriesPerValue = deliveries / rounds;
    });
  });
}
