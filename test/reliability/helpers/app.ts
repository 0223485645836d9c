/**
 * The Express app every HTTP check talks to: real @sess/express middleware on a
 * real loopback server, with routes for each behaviour under test.
 */
import { Agent, request } from 'node:http';
import { SessionError, SessionManager, type SessionManagerOptions, type Store } from '@sess/core';
import { csrf, session } from '@sess/express';
import { listenOnLoopback } from '@sess/test-utils';
import express, { type NextFunction, type Request, type Response } from 'express';

export const SECRET = 'reliability-suite-secret-0123456789-abcdefgh';

export interface TestServer {
  baseUrl: string;
  manager: SessionManager;
  /** Requests that ended in the error handler with a non-SessionError (a 500). */
  unexpected: unknown[];
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startServer(store: Store, options: Partial<SessionManagerOptions> = {}, csrfOptions = {}): Promise<TestServer> {
  const manager = new SessionManager({ secret: SECRET, store, cookie: { secure: false }, ...options });
  const unexpected: unknown[] = [];
  const app = express();
  app.use(session(manager));
  const q = (req: Request, name: string) => (typeof req.query[name] === 'string' ? (req.query[name] as string) : '');

  app.get('/work', (req, res) => {
    const counter = req.session.increment('counter');
    req.session.put(q(req, 'key'), Number(q(req, 'n')));
    res.json({ counter });
  });
  app.get('/all', (req, res) => void res.json({ id: req.session.id, isNew: req.session.isNew, all: req.session.all() }));
  app.get('/id', (req, res) => void res.json({ id: req.session.id, isNew: req.session.isNew }));
  app.get('/put', (req, res) => void (req.session.put(q(req, 'key'), q(req, 'value')), res.json({ id: req.session.id })));
  app.get('/increment', (req, res) => void res.json({ value: req.session.increment('n') }));
  app.get('/slow', async (req, res) => {
    await sleep(Number(q(req, 'ms')) || 300);
    req.session.put('late', true);
    req.session.increment('counter');
    res.json({ ok: true });
  });
  app.get('/signout', (req, res) => void (req.session.destroy(), res.json({ ok: true })));
  app.get('/login', (req, res) => {
    req.session.regenerateId(true);
    req.session.put('user', q(req, 'user') || 'alice');
    res.json({ id: req.session.id });
  });
  app.get('/flash/set', (req, res) => void (req.session.flash('notice', q(req, 'value')), res.json({ ok: true })));
  app.get('/flash/read', (req, res) => void res.json({ notice: req.session.get('notice') ?? null }));
  app.use('/csrf', express.urlencoded({ extended: false }), csrf(csrfOptions));
  app.get('/csrf/token', (_req, res) => void res.json({ token: res.locals.csrfToken() }));
  app.post('/csrf/submit', (req, res) => void res.json({ submits: req.session.increment('submits') }));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof SessionError) return void res.status(err.status).json({ error: err.code });
    // express's own 4xx (a malformed body) are not ours to count.
    const status = (err as { status?: number })?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) return void res.status(status).json({ error: 'client' });
    unexpected.push(err);
    res.status(500).json({ error: err instanceof Error ? err.message : String(err) });
  });

  const { server, baseUrl, close } = await listenOnLoopback(app);
  server.keepAliveTimeout = 30_000;
  return { baseUrl, manager, unexpected, close };
}

// One keep-alive pool for all checks: a bounded number of sockets, reused, so a
// load run measures the app and not TCP handshakes (or SYN retries on a full backlog).
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** A cookie-carrying request with a hard time bound: no check can hang. */
export function send(
  baseUrl: string,
  path: string,
  init: { cookie?: string; method?: string; headers?: Record<string, string | string[]>; body?: string; timeoutMs?: number } = {},
): Promise<{ status: number; body: any; setCookie: string[]; ms: number }> {
  const headers: Record<string, string | string[]> = { ...init.headers };
  if (init.cookie) headers.cookie = init.cookie;
  if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body));
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(baseUrl + path, { method: init.method ?? 'GET', headers, agent, timeout: init.timeoutMs ?? 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let body: any = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON (a 503 page): keep the text
        }
        const sc = res.headers['set-cookie'] ?? [];
        resolve({ status: res.statusCode ?? 0, body, setCookie: sc, ms: performance.now() - started });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`[sess test] ${path} got no answer in ${init.timeoutMs ?? 15_000} ms`)));
    req.on('error', reject);
    req.end(init.body);
  });
}

/** `name=value` of the session cookie in a response, for the next request's Cookie header. */
export function cookieOf(setCookie: string[], name = 'sess'): string | undefined {
  const found = setCookie.find((c) => c.startsWith(`${name}=`));
  return found?.split(';')[0];
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
