import { STATUS_CODES, type ServerResponse } from 'node:http';
import { debuglog } from 'node:util';
import type { Session, SessionManager } from '@sess/core';

const debug = debuglog('sess:express');

type Method = 'writeHead' | 'write' | 'end';
type Original = (this: ServerResponse, ...args: unknown[]) => unknown;

/** Per-response state, kept on the response under a symbol. */
interface Hold {
  state: 'open' | 'committing' | 'done' | 'failed';
  /** Calls made while the commit runs, replayed in order once it is done. */
  held: Array<{ name: Method; args: ArrayLike<unknown> }> | undefined;
  manager: SessionManager<any>;
  session: Session<any>;
  writeHead: Original;
  write: Original;
  end: Original;
}

const HOLD = Symbol('sess.express.hold');
type HeldResponse = ServerResponse & { [HOLD]: Hold };

/**
 * Why not just wrap writeHead: commit is async, and Node writes the headers
 * synchronously. So the first writeHead/write/end is held, the commit runs,
 * the Set-Cookie header is added, and the held calls are replayed in order.
 * Later calls pass straight through (the wrappers stay, so middleware that
 * wrapped res after us keeps working). When the session needs no commit at
 * that moment (a read-only request), nothing is held at all.
 *
 * The wrappers are module-level functions and the state one object per
 * response: this runs on every request, so it allocates as little as it can.
 */
export function holdUntilCommitted(res: ServerResponse, manager: SessionManager<any>, session: Session<any>): void {
  (res as HeldResponse)[HOLD] = {
    state: 'open',
    held: undefined,
    manager,
    session,
    writeHead: res.writeHead as Original,
    write: res.write as Original,
    end: res.end as Original,
  };
  res.writeHead = writeHead as ServerResponse['writeHead'];
  res.write = write as ServerResponse['write'];
  res.end = end as ServerResponse['end'];
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

function intercept(res: HeldResponse, name: Method, args: ArrayLike<unknown>): unknown {
  const hold = res[HOLD];
  if (hold.state === 'open' && !hold.manager.needsCommit(hold.session)) hold.state = 'done';
  if (hold.state === 'done') return hold[name].apply(res, args as unknown[]);
  if (hold.state !== 'failed') {
    (hold.held ??= []).push({ name, args: Array.prototype.slice.call(args) });
    if (hold.state === 'open') {
      hold.state = 'committing';
      hold.manager.commit(hold.session).then(
        (cookie) => {
          if (cookie !== undefined && !res.headersSent) appendSetCookie(res, cookie);
          replay(res, hold);
        },
        (err: unknown) => fail(res, hold, err),
      );
    }
  }
  // A held write answers false (wait for 'drain'); writeHead and end answer res.
  return name === 'write' ? false : res;
}

function replay(res: HeldResponse, hold: Hold): void {
  hold.state = 'done';
  let needsDrain = false;
  for (const { name, args } of hold.held!.splice(0)) {
    const result = hold[name].apply(res, args as unknown[]);
    if (name === 'write') needsDrain = result !== false;
    if (name === 'end') needsDrain = false;
  }
  // We answered false to the held writes: a piped stream waits for this.
  if (needsDrain) res.emit('drain');
}

function fail(res: HeldResponse, hold: Hold, err: unknown): void {
  hold.state = 'failed';
  hold.held = undefined;
  // A store failure is a 503; a record over maxSize (ValueError) is the app's bug: 500.
  const status = typeof (err as { status?: unknown })?.status === 'number' ? (err as { status: number }).status : 503;
  debug('commit failed, answering %d: %s', status, err instanceof Error ? err.message : String(err));
  if (res.headersSent) return void hold.end.call(res);
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  // The originals directly: our wrappers swallow everything once failed.
  hold.writeHead.call(res, status);
  hold.end.call(res, STATUS_CODES[status] ?? 'Error');
}

function appendSetCookie(res: ServerResponse, cookie: string): void {
  const existing = res.getHeader('Set-Cookie');
  if (existing === undefined) return void res.setHeader('Set-Cookie', cookie);
  const list = Array.isArray(existing) ? existing : [String(existing)];
  res.setHeader('Set-Cookie', [...list, cookie]);
}
