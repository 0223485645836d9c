import type { IncomingMessage, ServerResponse } from 'node:http';
import { CSRF_VARY, type CsrfOptions, type SessionManager } from '@sess/core';
import { SessionLifecycle, beginNode, errorResponse, type LifecycleOptions, type SessionRequest } from '@sess/core/http';
import type { GetServerSideProps, GetServerSidePropsContext, NextApiHandler, NextApiRequest, NextApiResponse } from 'next';
import { cookieNotWritable } from './errors.js';
import { type NextSession, cookieNeed, withSave } from './next-session.js';

/** An API route request with its session. */
export type NextApiRequestWithSession<Data extends object> = NextApiRequest & { session: NextSession<Data> };
/** A `getServerSideProps` context whose `req` carries the session. */
export type GetServerSidePropsContextWithSession<Data extends object> = GetServerSidePropsContext & {
  req: GetServerSidePropsContext['req'] & { session: NextSession<Data> };
};

/**
 * The Pages Router on the Node binding of the lifecycle: the response is held
 * until the session is committed however it ends (`res.json`, `res.redirect`,
 * which calls writeHead, write and end, `res.writeHead`, a stream), so the
 * cookie always arrives and a failed commit answers an error, never silence.
 */
export function createPagesHelpers<Data extends object>(manager: SessionManager<Data>, options: LifecycleOptions = {}) {
  const lifecycle = new SessionLifecycle<Data>(manager, { commitOnError: options.commitOnError });
  const requests = new WeakMap<IncomingMessage, Promise<{ session: NextSession<Data>; request: SessionRequest<Data> }>>();

  function begin(req: IncomingMessage, res: ServerResponse, through = lifecycle) {
    let pending = requests.get(req);
    if (pending === undefined) {
      // Next parses an API route's body before the handler: the CSRF form field is read from it.
      pending = beginNode(through, req, res, { body: () => Promise.resolve((req as { body?: unknown }).body) }).then((request) => {
        const session = withSave(request.session, async () => {
          // The hold adds the cookie when the response starts; after that it is too late for a new one.
          if (res.headersSent && cookieNeed(request.session, manager) !== 'none') throw cookieNotWritable('headers-sent');
          await request.finish({ status: res.statusCode });
        });
        return { session, request };
      });
      requests.set(req, pending);
      pending.catch(() => requests.delete(req));
    }
    return pending;
  }

  /**
   * The session of a Pages Router request (API route or `getServerSideProps`).
   * It is saved before the response goes out; `await session.save()` saves it
   * earlier (and reports a store failure to you instead of to the client).
   */
  async function getPagesSession(req: IncomingMessage, res: ServerResponse): Promise<NextSession<Data>> {
    return (await begin(req, res)).session;
  }

  /**
   * Wraps an API route: `req.session` is loaded before it runs and saved when
   * it ends the response, however it does (`res.json`, `res.redirect`, `res.end`).
   * A handler that throws commits nothing (unless `commitOnError`). With
   * `{ csrf: true }`, unsafe methods need a token (`_token` field or
   * `x-csrf-token` header) and a refused one answers 403 before the handler.
   */
  function withSessionRoute<T = any>(
    handler: (req: NextApiRequestWithSession<Data>, res: NextApiResponse<T>) => unknown | Promise<unknown>,
    routeOptions: { csrf?: boolean | CsrfOptions } = {},
  ): NextApiHandler<T> {
    const through = routeOptions.csrf ? new SessionLifecycle<Data>(manager, { ...options, csrf: routeOptions.csrf }) : lifecycle;
    return async (req, res) => {
      if (routeOptions.csrf) res.setHeader('Vary', CSRF_VARY);
      let begun;
      try {
        begun = await begin(req, res, through);
      } catch (err) {
        // A refused CSRF token or a store failure: core's answer, no internal detail.
        const { status, headers, body } = errorResponse(err);
        return void res.writeHead(status, headers).end(body);
      }
      const { session, request } = begun;
      (req as NextApiRequestWithSession<Data>).session = session;
      try {
        await handler(req as NextApiRequestWithSession<Data>, res);
      } catch (err) {
        await request.finish({ error: err }).catch(() => undefined);
        throw err;
      }
    };
  }

  /** Wraps `getServerSideProps`: `context.req.session` is loaded before and saved after it. */
  function withSessionSsr<P extends { [key: string]: any } = { [key: string]: any }>(
    gssp: (context: GetServerSidePropsContextWithSession<Data>) => ReturnType<GetServerSideProps<P>>,
  ): GetServerSideProps<P> {
    return async (context) => {
      const { session, request } = await begin(context.req, context.res);
      (context.req as GetServerSidePropsContextWithSession<Data>['req']).session = session;
      let result: Awaited<ReturnType<GetServerSideProps<P>>>;
      try {
        result = await gssp(context as GetServerSidePropsContextWithSession<Data>);
      } catch (err) {
        await request.finish({ error: err }).catch(() => undefined);
        throw err;
      }
      await session.save();
      return result;
    };
  }

  return { getPagesSession, withSessionRoute, withSessionSsr };
}
