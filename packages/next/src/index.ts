export { createNextSessions, type NextSessions } from './create.js';
export type { NextSession } from './next-session.js';
export type { SessionHandler, WithSessionContext, WithSessionOptions } from './route-handler.js';
export type { GetServerSidePropsContextWithSession, NextApiRequestWithSession } from './pages-router.js';
export type { CookieJar } from './app-router.js';
