/**
 * Bad input against a real Express server: property-based (fast-check) and a
 * bounded random fuzz over the Cookie header and the CSRF inputs. Each request
 * yields a fresh session or a 403 (or Node's own 400/431 for a header it will
 * not parse), never a 500, never a store read for an id the server did not
 * sign, and the process stays up.
 */
import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import { MemoryStore } from '@sess/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cookieOf, SECRET, send, startServer, type TestServer } from './helpers/app.js';
import { CountingStore } from './helpers/counting-store.js';
import { Figures } from './helpers/figures.js';

const figures = new Figures('fuzz', 'Bad input: cookie and CSRF fuzzing');
const RUNS = 300;
const sign = (id: string, secret = SECRET) => createHmac('sha256', secret).update(id).digest('base64url');
const latin1 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

describe('fuzzing the cookie header and CSRF inputs', () => {
  const store = new CountingStore(new MemoryStore());
  let server: TestServer;
  let legit: { cookie: string; id: string; value: string; token: string };
  /** Ids the server signed: the only ones the store may be asked for. */
  const signed = new Set<string>();
  const totals = { requests: 0, fresh: 0, refused403: 0, rejectedByNode: 0, serverErrors: 0 };

  beforeAll(async () => {
    server = await startServer(store);
    const r = await send(server.baseUrl, '/put?key=owner&value=legit');
    const cookie = cookieOf(r.setCookie)!;
    const value = cookie.slice('sess='.length);
    const id = value.split('.')[0]!;
    signed.add(id);
    const t = await send(server.baseUrl, '/csrf/token', { cookie });
    legit = { cookie, id, value, token: t.body.token };
  });
  afterAll(async () => {
    figures.record('totals', { ...totals, storeReadsOfUnsignedIds: store.reads.filter((id) => !signed.has(id)).length, unexpected500s: server.unexpected.length });
    await server?.close();
  });

  /** Sends a GET /all with this Cookie header and checks the invariants. */
  const probe = async (header: string) => {
    totals.requests++;
    let r;
    try {
      r = await send(server.baseUrl, '/all', { headers: { cookie: header } });
    } catch (err) {
      // The client refused to send it (a character Node's client will not put in a header).
      if ((err as { code?: string }).code === 'ERR_INVALID_CHAR') return;
      throw err;
    }
    if (r.status === 400 || r.status === 431) {
      totals.rejectedByNode++;
      return;
    }
    if (r.status >= 500) totals.serverErrors++;
    expect(r.status).toBe(200);
    // A fuzzed header is the legitimate session only when it carries the legitimate value intact.
    if (r.body.id === legit.id) {
      expect(header).toContain(legit.value);
    } else {
      totals.fresh++;
      expect(r.body.isNew).toBe(true);
      expect(r.body.all).toEqual({});
    }
    expect(store.reads.filter((id) => !signed.has(id))).toEqual([]);
  };

  it('random strings, unicode and bytes as the Cookie header', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 200 }), fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b).toString('latin1'))),
        async (s) => probe(latin1(s).replace(/[\r\n\0]/g, ' ')),
      ),
      { numRuns: RUNS },
    );
  });

  it('the session cookie with random ids of every length, off-by-one signatures, ../ and percent-encoding', async () => {
    const tamper = fc.oneof(
      // ids of every length 0..200, correctly signed: the shape check refuses all but 43
      fc.integer({ min: 0, max: 200 }).chain((n) => fc.string({ unit: fc.constantFrom(...'ABCabc019-_./%'), minLength: n, maxLength: n })).map((id) => `${id}.${sign(id)}`),
      // the legitimate value with one character changed
      fc.tuple(fc.nat(legit.value.length - 1), fc.constantFrom(...'AQgw-_.Zz09%')).map(([i, c]) => legit.value.slice(0, i) + c + legit.value.slice(i + 1)),
      // signature off by one byte
      fc.nat(31).map((i) => {
        const bytes = Buffer.from(legit.value.split('.')[1]!, 'base64url');
        bytes[i]! ^= 1;
        return `${legit.id}.${bytes.toString('base64url')}`;
      }),
      // path traversal and injection shapes
      fc.constantFrom('../../etc/passwd', '..%2F..%2Fetc%2Fpasswd', '../' + legit.id.slice(3), '%2e%2e/', legit.id, `${legit.id}.`, `.${sign(legit.id)}`).map((id) => `${id}.${sign(id)}`),
      // percent-encoded legitimate value: never decoded, so never verified
      fc.nat(legit.value.length - 1).map((i) => legit.value.slice(0, i) + '%' + legit.value.charCodeAt(i).toString(16).toUpperCase() + legit.value.slice(i + 1)),
      // signed with a secret the server never had
      fc.constant(null).map(() => `${legit.id}.${sign(legit.id, 'another-secret-of-enough-length-0123456789')}`),
    );
    await fc.assert(
      fc.asyncProperty(tamper, fc.constantFrom('', 'a=b; ', 'sess=x; '), async (value, prefix) => {
        // Refuse to pass off an accidentally legitimate value as a tampered one.
        fc.pre(value !== legit.value);
        await probe(`${prefix}sess=${value}`);
      }),
      { numRuns: RUNS },
    );
  });

  it('many cookies with the same name, and huge headers', async () => {
    const cases: Array<[string, string]> = [
      ['100 bad same-name cookies', Array.from({ length: 100 }, (_, i) => `sess=bad${i}`).join('; ')],
      ['100 bad same-name cookies then the good one', [...Array.from({ length: 100 }, (_, i) => `sess=bad${i}`), `sess=${legit.value}`].join('; ')],
      ['the good one then 100 bad ones', [`sess=${legit.value}`, ...Array.from({ length: 100 }, (_, i) => `sess=bad${i}`)].join('; ')],
      ['8 KB cookie', `sess=${'A'.repeat(8 * 1024)}`],
      ['15 KB of cookies', Array.from({ length: 1500 }, (_, i) => `c${i}=vvvv`).join('; ')],
      ['64 KB cookie', `sess=${'A'.repeat(64 * 1024)}`],
      ['1000 quoted cookies', Array.from({ length: 1000 }, () => 'sess="x"').join(';')],
    ];
    const statuses: Record<string, number> = {};
    for (const [name, header] of cases) {
      const before = totals.rejectedByNode;
      await probe(header);
      statuses[name] = totals.rejectedByNode > before ? 431 : 200;
    }
    figures.record('same-name and huge headers', statuses);
  });

  it('raw random bytes on the socket: Node answers 400 at worst and the server lives on', async () => {
    const { port } = new URL(server.baseUrl);
    const statuses = new Map<string, number>();
    const rounds = 150;
    for (let i = 0; i < rounds; i++) {
      const junk = Buffer.from(fc.sample(fc.uint8Array({ minLength: 1, maxLength: 600 }), { numRuns: 1, seed: i })[0]!);
      const head = Buffer.from(`GET /all HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nCookie: `);
      const payload = Buffer.concat([head, junk, Buffer.from('\r\n\r\n')]);
      const answer = await new Promise<string>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1');
        let data = '';
        socket.setTimeout(3000, () => socket.destroy());
        socket.on('data', (c) => (data += c.toString('latin1')));
        socket.on('close', () => resolve(data));
        socket.on('error', () => resolve(data));
        socket.end(payload);
      });
      const status = answer.slice(9, 12) || 'none';
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    figures.record('raw socket bytes', { rounds, ...Object.fromEntries(statuses) });
    expect([...statuses.keys()].every((s) => s === '200' || s === '400' || s === '431')).toBe(true);
    expect(store.reads.filter((id) => !signed.has(id))).toEqual([]);
    expect((await send(server.baseUrl, '/all', { cookie: legit.cookie })).body.id).toBe(legit.id);
  });

  it('CSRF: random tokens, origins and fetch-metadata values are refused with 403, never 500', async () => {
    let refused = 0;
    const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 120 });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          printable.map((token) => ({ headers: { 'x-csrf-token': token } as Record<string, string>, body: undefined as string | undefined })),
          printable.map((token) => ({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `_token=${encodeURIComponent(token)}` })),
          fc.string({ maxLength: 300 }).map((raw) => ({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: latin1(raw) })),
          fc.tuple(fc.constantFrom('cross-site', 'same-site', 'SAME-ORIGIN', '', 'none ', 'x'), printable).map(([site, origin]) => ({
            headers: { 'sec-fetch-site': site, origin, 'x-csrf-token': legit.token.slice(1) },
            body: undefined,
          })),
          fc.tuple(fc.nat(42), fc.constantFrom('A', 'B', '-')).map(([i, c]) => ({ headers: { 'x-csrf-token': legit.token.slice(0, i) + c + legit.token.slice(i + 1) }, body: undefined })),
        ),
        async ({ headers, body }) => {
          fc.pre((headers as Record<string, string>)['x-csrf-token'] !== legit.token);
          totals.requests++;
          const r = await send(server.baseUrl, '/csrf/submit', { method: 'POST', cookie: legit.cookie, headers, body });
          if (r.status === 403) refused++;
          expect(r.status).toBe(403);
        },
      ),
      { numRuns: RUNS },
    );
    totals.refused403 += refused;
    // The real token, sent after all that, still passes exactly once.
    const ok = await send(server.baseUrl, '/csrf/submit', { method: 'POST', cookie: legit.cookie, headers: { 'x-csrf-token': legit.token } });
    expect(ok.status).toBe(200);
    expect(server.unexpected).toEqual([]);
  });

  it('a bounded random fuzz run mixing all of the above (2000 requests or 20 s)', async () => {
    const deadline = performance.now() + 20_000;
    const gen = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }).map((s) => `sess=${latin1(s)}`),
      fc.string({ unit: 'grapheme-ascii', minLength: 87, maxLength: 87 }).map((s) => `sess=${s}`),
      fc.nat(legit.value.length - 1).map((i) => `sess=${legit.value.slice(0, i)}${legit.value.slice(i + 1)}`),
    );
    const samples = fc.sample(gen, { numRuns: 2000, seed: 42 });
    let sent = 0;
    for (let i = 0; i < samples.length && performance.now() < deadline; i += 20) {
      await Promise.all(samples.slice(i, i + 20).map((h) => probe(h.replace(/[\r\n\0]/g, ' '))));
      sent += Math.min(20, samples.length - i);
    }
    figures.record('bounded fuzz run', { planned: samples.length, sent, serverErrors: totals.serverErrors });
    expect(totals.serverErrors).toBe(0);
    expect(server.unexpected).toEqual([]);
  });
});
