/**
 * The Node binding of the lifecycle: `IncomingMessage` in, `ServerResponse`
 * held until the commit is done. Express, the Next.js Pages Router and any
 * other framework on Node's `http` module use it.
 *
 * Why hold: a commit is async and Node writes the headers synchronously, so
 * the first `writeHead`/`write`/`end` of a response whose session has
 * something to commit is held, the commit runs, the cookie is added, and the
 * held calls are replayed in order. Read-only requests are never held.
 *
 * While the response is held:
 * - `res.headersSent` reports false (nothing has been sent; reporting true
 *   would make Express's final handler destroy the socket under the held
 *   response). So an error middleware that runs after the handler answered may
 *   answer again: that second answer is dropped (first answer wins), and its
 *   header and status changes are undone, so the client gets the first answer
 *   intact and the process never sees a write after end.
 * - `writeHead(status, headers)` applies its headers at once, and a
 *   `Set-Cookie` among them is added to the session's cookie, never replacing it.
 * - a held `write` returns false; 'drain' is emitted once the writes went out,
 *   so a piped stream waits instead of buffering without bound.
 * When the commit fails, the held answer is replaced by the error response
 * (`errorResponse`: 503 for a store failure, 409 for a session ended
 * elsewhere, with a body that never shows internal detail). When the commit
 * runs after the headers went out (a streamed response that changed the
 * session late), a failure aborts the connection, so the client sees an error
 * rather than a success that was not saved.
 */
import type { IncomingMessage, OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { debuglog } from 'node:util';
import type { SessionCookie } from '../cookie.js';
import type { DefaultData } from '../types.js';
import { errorResponse } from './error-response.js';
import type { Exchange, SessionLifecycle, SessionRequest } from './lifecycle.js';

const debug = debuglog('sess:http');

type Method = 'writeHead' | 'write' | 'end';
type Original = (this: ServerResponse, ...args: unknown[]) => unknown;

interface Hold {
  state: 'open' | 'holding' | 'done' | 'failed';
  held: Array<{ name: Method; args: unknown[] }>;
  /** An `end` is among the held calls: the first answer is complete. */
  ended: boolean;
  /** The status and headers of the first answer, restored before the replay. */
  snapshot: { statusCode: number; statusMessage: string; headers: OutgoingHttpHeaders } | undefined;
  request: SessionRequest<any>;
  writeHead: Original;
  write: Original;
  end: Original;
}

type HeldResponse = ServerResponse;

/** A Node request as the lifecycle sees it. `body`: the framework's parsed body, if any. */
export function nodeExchange(req: IncomingMessage, body?: Exchange['body']): Exchange {
  return {
    method: req.method ?? 'GET',
    header(name) {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    body,
  };
}

/**
 * Begins the session of a Node request and holds its response until the
 * session is committed. The adapter then only puts `request.session` where
 * its framework keeps such things.
 *
 * @example
 * const request = await beginNode(lifecycle, req, res, { body: req.body });
 * req.session = request.session;
 */
export async function beginNode<Data extends object = DefaultData>(
  lifecycle: SessionLifecycle<Data>,
  req: IncomingMessage,
  res: ServerResponse,
  options: { body?: Exchange['body'] } = {},
): Promise<SessionRequest<Data>> {
  const request = await lifecycle.begin(nodeExchange(req, options.body));
  holdResponse(res, request);
  return request;
}

/**
 * The holds of responses in flight. A WeakMap, not a property: a property added
 * to a ServerResponse (an object of some forty fields) per request costs more.
 */
// Shared through a global symbol, so an ESM and a CJS copy of core see one hold per response.
const holds: WeakMap<ServerResponse, Hold> = ((globalThis as Record<symbol, unknown>)[Symbol.for('sess.http.holds')] ??= new WeakMap()) as WeakMap<ServerResponse, Hold>;

/**
 * For each response prototype (Express gives every response its app's), one
 * object between it and the response whose writeHead/write/end intercept: one
 * prototype switch per response instead of three own methods.
 */
const heldPrototypes = new WeakMap<object, object>();

function heldPrototypeOf(proto: object): object {
  let held = heldPrototypes.get(proto);
  if (held === undefined) {
    held = Object.create(proto, {
      writeHead: { value: writeHead, writable: true, configurable: true },
      write: { value: write, writable: true, configurable: true },
      end: { value: end, writable: true, configurable: true },
    }) as object;
    heldPrototypes.set(proto, held);
    heldPrototypes.set(held, held);
  }
  return held;
}

const hasOwn = Object.prototype.hasOwnProperty;

/** Installs the response hold for `request` on `res` (once per response). */
export function holdResponse(res: ServerResponse, request: SessionRequest<any>): void {
  const existing = holds.get(res);
  if (existing) {
    existing.request = request;
    return;
  }
  holds.set(res, {
    state: 'open',
    held: [],
    ended: false,
    snapshot: undefined,
    request,
    writeHead: res.writeHead as Original,
    write: res.write as Original,
    end: res.end as Original,
  });
  if (hasOwn.call(res, 'writeHead') || hasOwn.call(res, 'write') || hasOwn.call(res, 'end')) {
    // Another middleware patched the methods on the response itself (on-headers does): wrap those.
    res.writeHead = writeHead as ServerResponse['writeHead'];
    res.write = write as ServerResponse['write'];
    res.end = end as ServerResponse['end'];
  } else {
    Object.setPrototypeOf(res, heldPrototypeOf(Object.getPrototypeOf(res) as object));
  }
}

/**
 * Adds a `Set-Cookie` value to the response's headers, keeping the ones there.
 * @example appendSetCookie(res, cookie.header)
 */
export function appendSetCookie(res: ServerResponse, value: string): void {
  const existing = res.getHeader('set-cookie');
  if (existing === undefined) res.setHeader('Set-Cookie', value);
  else res.setHeader('Set-Cookie', [...(Array.isArray(existing) ? existing : [String(existing)]), value]);
}

function writeHead(this: HeldResponse): unknown {
  // eslint-disable-next-line prefer-rest-params
  return intercept(this, 'writeHead', arguments);
}

function write(this: HeldResponse): unknown {
  // eslint-disable-next-line prefer-rest-params
  return intercept(this, 'write', arguments);
}

function end(this: HeldResponse): unknown {
  // eslint-disable-next-line prefer-rest-params
  return intercept(this, 'end', arguments);
}

function intercept(res: HeldResponse, name: Method, argsLike: IArguments): unknown {
  const hold = holds.get(res)!;
  if (hold.state === 'open' && !hold.request.needsCommit()) hold.state = 'done';
  if (hold.state === 'done') {
    // Headers went out with nothing to commit; a change made later (a streamed
    // response) is still written when the response ends.
    if (name === 'end' && !hold.ended && !res.writableEnded && hold.request.needsCommit()) return lateCommit(res, hold, argsLike);
    return hold[name].apply(res, argsLike as unknown as unknown[]);
  }
  if (hold.state === 'failed') return name === 'write' ? false : res;
  if (hold.ended) {
    // A second answer (an error middleware after the handler answered): the first wins.
    debug('second %s on a held response dropped: the first answer is sent', name);
    return name === 'write' ? false : res;
  }
  const args = Array.prototype.slice.call(argsLike) as unknown[];
  if (name === 'writeHead') args.splice(0, args.length, ...applyHeadArgs(res, args));
  hold.held.push({ name, args });
  if (name === 'end') {
    hold.ended = true;
    hold.snapshot = {
      statusCode: res.statusCode,
      statusMessage: res.statusMessage,
      headers: res.getHeaders(),
    };
  }
  if (hold.state === 'open') {
    hold.state = 'holding';
    const status = name === 'writeHead' && typeof args[0] === 'number' ? args[0] : res.statusCode;
    hold.request.finish({ status }).then(
      (cookie) => replay(res, hold, cookie),
      (err: unknown) => fail(res, hold, err),
    );
  }
  // A held write answers false (wait for 'drain'); writeHead and end answer res.
  return name === 'write' ? false : res;
}

function replay(res: HeldResponse, hold: Hold, cookie: SessionCookie | undefined): void {
  hold.state = 'done';
  if (res.destroyed) return; // the client went away meanwhile: nothing to send
  const snapshot = hold.snapshot;
  if (snapshot && changedSince(res, snapshot)) {
    // Undo what a dropped second answer changed.
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    for (const name of Object.keys(snapshot.headers)) res.setHeader(name, snapshot.headers[name]!);
    res.statusCode = snapshot.statusCode;
    res.statusMessage = snapshot.statusMessage;
  }
  if (cookie !== undefined) appendSetCookie(res, cookie.header);
  let needsDrain = false;
  for (const { name, args } of hold.held.splice(0)) {
    const result = hold[name].apply(res, args);
    if (name === 'write') needsDrain = result !== false;
    if (name === 'end') needsDrain = false;
  }
  // We answered false to the held writes: a piped stream waits for this.
  if (needsDrain) res.emit('drain');
}

/** Whether the status or a header changed since the first answer ended (a dropped second answer changed it). */
function changedSince(res: HeldResponse, snapshot: NonNullable<Hold['snapshot']>): boolean {
  if (res.statusCode !== snapshot.statusCode || res.statusMessage !== snapshot.statusMessage) return true;
  const now = res.getHeaders();
  const names = Object.keys(now);
  if (names.length !== Object.keys(snapshot.headers).length) return true;
  for (const name of names) if (now[name] !== snapshot.headers[name]) return true;
  return false;
}

function fail(res: HeldResponse, hold: Hold, err: unknown): void {
  hold.state = 'failed';
  hold.held = [];
  if (res.destroyed) return;
  const answer = errorResponse(err);
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.statusCode = answer.status;
  hold.writeHead.call(res, answer.status, answer.headers);
  hold.end.call(res, answer.body);
}

function lateCommit(res: HeldResponse, hold: Hold, argsLike: IArguments): unknown {
  const args = Array.prototype.slice.call(argsLike) as unknown[];
  hold.state = 'holding';
  hold.ended = true;
  // A new session's cookie can no longer reach the browser: storing it would only leave an orphan.
  const session = hold.request.session;
  const done = session.needsCookie ? hold.request.manager.rollback(session) : hold.request.finish({ status: res.statusCode });
  done.then(
    (cookie) => {
      hold.state = 'done';
      if (cookie !== undefined) debug('the session cookie changed after the headers were sent: it cannot reach the browser');
      hold.end.apply(res, args);
    },
    (err: unknown) => {
      hold.state = 'failed';
      debug('commit after the headers were sent failed, aborting the response: %s', err instanceof Error ? err.message : String(err));
      res.destroy(err instanceof Error ? err : new Error(String(err)));
    },
  );
  return res;
}

/**
 * Applies the headers of a held `writeHead(status, [message], headers)` now,
 * merging `Set-Cookie` with the cookies already set (Node would replace them),
 * and returns the arguments to replay without headers.
 */
function applyHeadArgs(res: ServerResponse, args: unknown[]): unknown[] {
  const [status, second, third] = args;
  const message = typeof second === 'string' ? second : undefined;
  const headers = typeof second === 'string' ? third : second;
  if (headers && typeof headers === 'object') {
    if (Array.isArray(headers)) {
      const pairs: Array<[string, unknown]> = [];
      if (headers.length > 0 && Array.isArray(headers[0])) for (const [k, v] of headers as Array<[string, unknown]>) pairs.push([k, v]);
      else for (let i = 0; i + 1 < headers.length; i += 2) pairs.push([String(headers[i]), headers[i + 1]]);
      const seen = new Set<string>();
      for (const [name, value] of pairs) {
        const lower = name.toLowerCase();
        if (lower === 'set-cookie' || seen.has(lower)) addHeader(res, name, value);
        else res.setHeader(name, value as OutgoingHttpHeader);
        seen.add(lower);
      }
    } else {
      for (const name of Object.keys(headers)) {
        const value = (headers as Record<string, unknown>)[name];
        if (value === undefined) continue;
        if (name.toLowerCase() === 'set-cookie') addHeader(res, name, value);
        else res.setHeader(name, value as OutgoingHttpHeader);
      }
    }
  }
  return message === undefined ? [status] : [status, message];
}

function addHeader(res: ServerResponse, name: string, value: unknown): void {
  const existing = res.getHeader(name);
  const add = Array.isArray(value) ? value.map(String) : [String(value)];
  if (existing === undefined) res.setHeader(name, name.toLowerCase() === 'set-cookie' ? add : add.join(', '));
  else if (name.toLowerCase() === 'set-cookie') res.setHeader(name, [...(Array.isArray(existing) ? existing : [String(existing)]), ...add]);
  else res.setHeader(name, `${Array.isArray(existing) ? existing.join(', ') : String(existing)}, ${add.join(', ')}`);
}
