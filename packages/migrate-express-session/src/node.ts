import type { IncomingMessage, ServerResponse } from 'node:http';
import { appendSetCookie } from '@sess/core/http';
import { ExpressSessionMigrator, type ExpressSessionMigratorOptions, type MigrationResult } from './migrator.js';

export interface MigrationMiddlewareOptions {
  /**
   * Called with what the migrator did for each request that carried an old
   * cookie (not for `none`): count `migrated` to know when the window can close.
   * @example onResult: (result) => metrics.increment(`session_migration.${result.outcome}`)
   */
  onResult?: (result: MigrationResult, req: IncomingMessage) => void;
}

/** A Connect-style middleware (Express, Connect, any framework on `node:http`), with its migrator. */
export interface MigrationMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void;
  readonly migrator: ExpressSessionMigrator;
}

/**
 * The migrator as a middleware for Express (4 and 5) and Connect: place it
 * before the sess `session()` middleware. It rewrites `req.headers.cookie`
 * (the old cookie replaced by the sess cookie) and adds its `Set-Cookie`
 * values to the response; a store failure goes to `next(err)` (a
 * `StoreError`, status 503).
 *
 * @example
 * const sessions = session({ secret: process.env.SESSION_SECRET!, store });
 * app.use(migrationMiddleware({ manager: sessions.manager, secret: process.env.OLD_SESSION_SECRET!, source }), sessions);
 */
export function migrationMiddleware(migrator: ExpressSessionMigrator | ExpressSessionMigratorOptions, options: MigrationMiddlewareOptions = {}): MigrationMiddleware {
  const instance = migrator instanceof ExpressSessionMigrator ? migrator : new ExpressSessionMigrator(migrator);
  const middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void => {
    const header = req.headers.cookie;
    instance.load(header).then((result) => {
      if (result.cookieHeader !== header) {
        if (result.cookieHeader === undefined) delete req.headers.cookie;
        else req.headers.cookie = result.cookieHeader;
      }
      for (const value of result.setCookies) appendSetCookie(res, value);
      if (result.outcome !== 'none') options.onResult?.(result, req);
      next();
    }, next);
  };
  return Object.assign(middleware, { migrator: instance });
}
