import { getIronSession } from 'iron-session';
import { cookies } from 'next/headers';
import { ironOptions } from '../../../lib/session.js';

export const dynamic = 'force-dynamic';
export async function GET() {
  const session = await getIronSession(await cookies(), ironOptions);
  return Response.json({ n: session.n ?? 0 });
}
