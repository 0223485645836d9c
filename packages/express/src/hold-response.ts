import { STATUS_CODES, type ServerResponse } from 'node:http';
import { debuglog } from 'node:util';

const debug = debuglog('sess:express');

type Held = { name: 'writeHead' | 'write' | 'end'; args: unknown[] };

/**
 * Why not just wrap writeHead: commit is async, and Node writes the headers
 * synchronously. So the first writeHead/write/end is held, the commit runs,
 * the Set-Cookie header is added, and the held calls are replayed in order.
 * Later calls pass straight through (the wrappers stay, so middleware that
 * wrapped res after us keeps working).
 */
export function holdUntilCommitted(res: ServerResponse, commit: () => Promise<string | undefined>): void {
  const original = { writeHead: res.writeHead, write: res.write, end: res.end } as Record<Held['name'], (...args: unknown[]) => unknown>;
  const held: Held[] = [];
  let state: 'open' | 'committing' | 'done' | 'failed' = 'open';

  const replay = () => {
    state = 'done';
    let needsDrain = false;
    for (const { name, args } of held.splice(0)) {
      const result = original[name]!.apply(res, args);
      if (name === 'write') needsDrain = result !== false;
      if (name === 'end') needsDrain = false;
    }
    // We answered false to the held writes: a piped stream waits for this.
    if (needsDrain) res.emit('drain');
  };

  const fail = (err: unknown) => {
    state = 'failed';
    held.length = 0;
    // A store failure is a 503; a record over maxSize (ValueError) is the app's bug: 500.
    const status = typeof (err as { status?: unknown })?.status === 'number' ? (err as { status: number }).status : 503;
    debug('commit failed, answering %d: %s', status, err instanceof Error ? err.message : String(err));
    if (res.headersSent) return void original.end!.call(res);
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.statusCode = status;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    // The originals directly: our wrappers swallow everything once failed.
    original.writeHead!.call(res, status);
    original.end!.call(res, STATUS_CODES[status] ?? 'Error');
  };

  const hold = (name: Held['name'], args: unknown[]) => {
    held.push({ name, args });
    if (state !== 'open') return;
    state = 'committing';
    commit().then((cookie) => {
      if (cookie !== undefined && !res.headersSent) appendSetCookie(res, cookie);
      replay();
    }, fail);
  };

  const wrap = (name: Held['name']) =>
    function (this: ServerResponse, ...args: unknown[]) {
      if (state === 'done') return original[name]!.apply(this, args);
      if (state !== 'failed') hold(name, args);
      // A held write answers false (wait for 'drain'); writeHead and end answer res.
      return name === 'write' ? false : this;
    };
  res.writeHead = wrap('writeHead') as ServerResponse['writeHead'];
  res.write = wrap('write') as ServerResponse['write'];
  res.end = wrap('end') as ServerResponse['end'];
}

function appendSetCookie(res: ServerResponse, cookie: string): void {
  const existing = res.getHeader('Set-Cookie');
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  res.setHeader('Set-Cookie', [...list, cookie]);
}
