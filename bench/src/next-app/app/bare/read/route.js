export const dynamic = 'force-dynamic';
export function GET() {
  return Response.json({ n: globalThis.__sessBenchN ?? 0 });
}
