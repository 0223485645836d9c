import { getIronSession } from 'iron-session';
import { cookies } from 'next/headers';
import { ironOptions } from '../../../lib/session.js';

export const dynamic = 'force-dynamic';
export async function GET() {
  const session = await getIronSession(await cookies(), ironOptions);
  session.n = (session.n ?? 0) + 1;
  await session.save();
  return Response.json({ n: session.n });
}
