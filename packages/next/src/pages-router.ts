import { debuglog } from 'node:util';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SessionManager } from '@sess/core';
import type { GetServerSideProps, GetServerSidePropsContext, NextApiHandler, NextApiRequest, NextApiResponse } from 'next';
import { cookieNotWritable } from './errors.js';
import { type NextSession, cookieNeed, withSave } from './next-session.js';

const debug = debuglog('sess:next');

/** An API route request with its session. */
export type NextApiRequestWithSession<Data extends object> = NextApiRequest & { session: NextSession<Data> };
/** A `getServerSideProps` context whose `req` carries the session. */
export type GetServerSidePropsContextWithSession<Data extends object> = GetServerSidePropsContext & {
  req: GetServerSidePropsContext['req'] & { session: NextSession<Data> };
};

export function createPagesHelpers<Data extends object>(manager: SessionManager<Data>) {
  const sessions = new WeakMap<IncomingMessage, Promise<NextSession<Data>>>();

  async function save(session: NextSession<Data>, res: ServerResponse): Promise<void> {
    if (res.headersSent) {
      if (cookieNeed(session, manager) !== 'none') throw cookieNotWritable('headers-sent');
      await manager.commit(session);
      return;
    }
    const header = await manager.commit(session);
    if (header === undefined) return;
    const previous = res.getHeader('set-cookie');
    const list = previous === undefined ? [] : Array.isArray(previous) ? previous : [String(previous)];
    res.setHeader('set-cookie', [...list, header]);
  }

  /**
   * The session of a Pages Router request (API route or `getServerSideProps`);
   * `await session.save()` before the response is sent.
   */
  function getPagesSession(req: IncomingMessage, res: ServerResponse): Promise<NextSession<Data>> {
    let pending = sessions.get(req);
    if (pending === undefined) {
      pending = manager.load(req.headers.cookie).then((loaded) => {
        const session: NextSession<Data> = withSave(loaded, () => save(session, res));
        return session;
      });
      sessions.set(req, pending);
      pending.catch(() => sessions.delete(req));
    }
    return pending;
  }

  /**
   * Wraps an API route: `req.session` is loaded before it runs and saved when it
   * ends the response (`res.json`, `res.send`, `res.end`), no `save()` needed.
   */
  function withSessionRoute<T = any>(
    handler: (req: NextApiRequestWithSession<Data>, res: NextApiResponse<T>) => unknown | Promise<unknown>,
  ): NextApiHandler<T> {
    return async (req, res) => {
      const session = await getPagesSession(req, res);
      (req as NextApiRequestWithSession<Data>).session = session;
      const end = res.end as unknown as (...a: unknown[]) => ServerResponse;
      // Commit when the handler ends the response, before the headers go out.
      // end() must stay synchronous for the caller, so the real end waits.
      res.end = function (this: ServerResponse, ...args: unknown[]) {
        res.end = end as typeof res.end;
        session.save().then(
          () => end.apply(res, args),
          (err: unknown) => {
            debug('session save failed: %s', err instanceof Error ? err.message : String(err));
            if (res.headersSent) return end.call(res);
            res.statusCode = (err as { status?: number }).status ?? 500;
            res.removeHeader('content-length');
            res.setHeader('content-type', 'text/plain; charset=utf-8');
            end.call(res, err instanceof Error ? err.message : '[sess] the session could not be saved.');
          },
        );
        return res;
      } as typeof res.end;
      await handler(req as NextApiRequestWithSession<Data>, res);
    };
  }

  /** Wraps `getServerSideProps`: `context.req.session` is loaded before and saved after it. */
  function withSessionSsr<P extends { [key: string]: any } = { [key: string]: any }>(
    gssp: (context: GetServerSidePropsContextWithSession<Data>) => ReturnType<GetServerSideProps<P>>,
  ): GetServerSideProps<P> {
    return async (context) => {
      const session = await getPagesSession(context.req, context.res);
      (context.req as GetServerSidePropsContextWithSession<Data>['req']).session = session;
      const result = await gssp(context as GetServerSidePropsContextWithSession<Data>);
      await session.save();
      return result;
    };
  }

  return { getPagesSession, withSessionRoute, withSessionSsr };
}
