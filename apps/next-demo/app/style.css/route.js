import { styleSheet } from 'demo-kit';

export function GET() {
  return new Response(styleSheet, { headers: { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'public, max-age=300' } });
}
