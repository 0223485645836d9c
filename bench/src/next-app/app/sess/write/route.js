import { withSession } from '../../../lib/session.js';

export const dynamic = 'force-dynamic';
export const GET = withSession(async (request, { session }) => Response.json({ n: session.increment('n') }));
