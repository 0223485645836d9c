import { favicon, FAVICON_HEADERS } from 'demo-kit';

// The icon the Express and Koa demos serve (drawn by demo-kit), without a session.
export function GET() {
  return new Response(favicon, { headers: FAVICON_HEADERS });
}
