export const dynamic = 'force-dynamic';
export function GET() {
  globalThis.__sessBenchN = (globalThis.__sessBenchN ?? 0) + 1;
  return Response.json({ n: globalThis.__sessBenchN });
}
