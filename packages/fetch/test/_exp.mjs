import { createRequestHandler, createContext, redirect, data } from 'react-router';
const sessionContext = createContext();
const routes = {
  root: { id: 'root', path: '', module: { default: () => null, loader: async () => data({ a: 1 }, { headers: { 'set-cookie': 'x=1; Path=/' } }), middleware: [async ({ request, context }, next) => { if (request.url.includes('deny')) return new Response('denied', { status: 403 }); context.set(sessionContext, 'S'); const r = await next(); r.headers.append('x-mw', '1'); return r; }] } },
  'routes/put': { id: 'routes/put', parentId: 'root', path: 'put', module: { loader: async ({ request, context }) => Response.json({ s: context.get(sessionContext) }) } },
  'routes/page': { id: 'routes/page', parentId: 'root', path: 'page', module: { default: () => null, loader: async () => data({ p: 1 }, { headers: { 'set-cookie': 'y=2; Path=/' } }), action: async ({ request }) => { const f = await request.formData(); return data({ got: f.get('a') }, { headers: { 'set-cookie': 'z=3' } }); } } },
};
const build = {
  entry: { module: { default: (request, status, headers, context) => new Response('<html>doc</html>', { status, headers }) } },
  routes, assets: { entry: { module: '', imports: [] }, routes: {}, url: '', version: '1' }, publicPath: '/', assetsBuildDirectory: '/tmp',
  future: { v8_middleware: true }, ssr: true, isSpaMode: false, prerender: [], routeDiscovery: { mode: 'lazy', manifestPath: '/__manifest' },
};
const handler = createRequestHandler(build, 'production');
for (const [m, u, body] of [['GET','/put?deny'],['GET','/page'],['GET','/page.data'],['POST','/page', new URLSearchParams({a:'x'})],['POST','/page.data', new URLSearchParams({a:'x'})]]) {
  const r = await handler(new Request('http://x' + u, { method: m, body, redirect: 'manual', headers: body? { origin: 'http://x', 'content-type': 'application/x-www-form-urlencoded' } : {} }), undefined);
  console.log(m, u, r.status, [...r.headers], (await r.text()).slice(0, 200));
}
