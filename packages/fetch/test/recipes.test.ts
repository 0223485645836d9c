/**
 * The README's recipes, each run over real HTTP on Node: the code between
 * `#region readme` and `#endregion` of each file in ./recipes is the code the
 * README shows (checked below), served through @hono/node-server.
 */
import { readFileSync } from 'node:fs';
import { ControlledStore, HttpClient, type ScenarioServer } from '@sess/test-utils';
import { createRequestHandler, type ServerBuild } from 'react-router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveWithNodeServer } from './app.js';

const store = new ControlledStore();
(globalThis as { recipeStore?: unknown }).recipeStore = store;
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const tokenIn = (html: string) => /name="_token" value="([^"]+)"/.exec(html)?.[1] ?? '';

async function serving(handler: (request: Request) => Promise<Response>) {
  const server = await serveWithNodeServer(handler);
  afterAll(() => server.close());
  return server;
}

describe('README code', () => {
  for (const file of ['plain', 'two-step', 'sveltekit', 'react-router']) {
    it(`shows the recipe of recipes/${file}.ts as it is tested`, () => {
      const source = readFileSync(new URL(`./recipes/${file}.ts`, import.meta.url), 'utf8');
      const regions = [...source.matchAll(/\/\/ #region readme[\w-]*\n([\s\S]*?)\/\/ #endregion/g)].map((m) => m[1]!.trimEnd());
      expect(regions.length).toBeGreaterThan(0);
      for (const region of regions) expect(readme).toContain(region);
    });
  }
});

describe('recipe: a plain (request) => Response handler (Bun.serve, Deno.serve), on Node', () => {
  let server: ScenarioServer;
  beforeAll(async () => {
    const { fetchHandler } = await import('./recipes/plain.js');
    server = await serving(fetchHandler);
  });

  it('counts visits and signs in through the CSRF form with a new session id', async () => {
    const b = new HttpClient(server.baseUrl);
    expect(await (await b.get('/')).text()).toContain('Hello stranger, visit 1');
    const page = await (await b.get('/')).text();
    expect(page).toContain('visit 2');
    const before = [...b.cookies.values()][0];
    const signIn = await b.post('/sign-in', { form: { _token: tokenIn(page), user: 'ada' } });
    expect(signIn.status).toBe(303); // Response.redirect(): immutable headers, the cookie went on a copy
    expect(signIn.headers.get('vary')).toMatch(/Sec-Fetch-Site/);
    expect([...b.cookies.values()][0]).not.toBe(before);
    expect(await (await b.get('/')).text()).toContain('Hello ada, visit 1');
  });

  it('refuses a replayed, missing or cross-site token with 403, and signs nobody in', async () => {
    const b = new HttpClient(server.baseUrl);
    const token = tokenIn(await (await b.get('/')).text());
    const cross = await b.post('/sign-in', { form: { _token: token, user: 'eve' }, headers: { 'sec-fetch-site': 'cross-site' } });
    expect(cross.status).toBe(403);
    expect((await b.post('/sign-in', { form: { user: 'eve' } })).status).toBe(403);
    expect((await b.post('/sign-in', { form: { _token: token, user: 'ada' } })).status).toBe(303);
    const replay = await b.post('/sign-in', { form: { _token: token, user: 'eve' } });
    expect(replay.status).toBe(403);
    expect(await replay.text()).toMatch(/^\[sess\] CSRF token invalid/);
    expect(await (await b.get('/')).text()).toContain('Hello ada');
  });

  it('answers 503 without detail while the store is down', async () => {
    const b = new HttpClient(server.baseUrl);
    await b.get('/');
    store.down = true;
    try {
      const response = await b.get('/');
      expect(response.status).toBe(503);
      expect(await response.text()).toBe('Service Unavailable');
    } finally {
      store.down = false;
    }
  });
});

describe('recipe: two steps, begin then finish or fail', () => {
  let server: ScenarioServer;
  beforeAll(async () => {
    const { handler } = await import('./recipes/two-step.js');
    server = await serving(handler);
  });

  it('commits and adds the cookie', async () => {
    const b = new HttpClient(server.baseUrl);
    expect(await (await b.get('/')).json()).toEqual({ count: 1 });
    expect(await (await b.get('/')).json()).toEqual({ count: 2 });
  });

  it('answers the store failure of begin (503) and of finish (503) without detail', async () => {
    const returning = new HttpClient(server.baseUrl);
    await returning.get('/');
    const fresh = new HttpClient(server.baseUrl);
    store.down = true;
    try {
      for (const b of [returning, fresh]) {
        const response = await b.get('/');
        expect(response.status).toBe(503);
        expect(response.headers.getSetCookie()).toEqual([]);
        expect(await response.text()).not.toContain('ENOENT');
      }
    } finally {
      store.down = false;
    }
    expect(await (await returning.get('/')).json()).toEqual({ count: 2 });
  });
});

describe('recipe: SvelteKit handle hook (hand-built event)', () => {
  let server: ScenarioServer;
  beforeAll(async () => {
    const { handle } = await import('./recipes/sveltekit.js');
    type Event = import('./recipes/sveltekit.js').RequestEvent;
    // What SvelteKit's resolve does for these pages: a load function, a form action that
    // redirects (303), a load function that throws (the error page, 500).
    const resolve = async (event: Event): Promise<Response> => {
      const { session, csrfToken } = event.locals;
      if (event.url.pathname === '/login' && event.request.method === 'POST') {
        const form = await event.request.formData(); // the body is still there: sess read a clone
        session.regenerateId().put('user', String(form.get('user')));
        return new Response(null, { status: 303, headers: { location: '/' } });
      }
      if (event.url.pathname === '/boom') {
        session.put('user', 'mallory');
        return new Response('<h1>500</h1>', { status: 500 });
      }
      return Response.json({ visits: session.increment('visits'), user: session.get('user') ?? null, token: csrfToken() });
    };
    server = await serving((request) => handle({ event: { request, url: new URL(request.url), locals: {} as App.Locals }, resolve }));
  });

  it('puts the session in event.locals, commits after resolve, signs in through a form action', async () => {
    const b = new HttpClient(server.baseUrl);
    expect(await (await b.get('/')).json()).toMatchObject({ visits: 1, user: null });
    const login = await b.post('/login', { form: { user: 'ada' } });
    expect(login.status).toBe(303);
    expect(login.headers.getSetCookie()).toHaveLength(1);
    expect(await (await b.get('/')).json()).toMatchObject({ visits: 1, user: 'ada' });
  });

  it('rolls back what a page that ended in a 500 changed', async () => {
    const b = new HttpClient(server.baseUrl);
    await b.post('/login', { form: { user: 'ada' } });
    expect((await b.get('/boom')).status).toBe(500);
    expect(await (await b.get('/')).json()).toMatchObject({ user: 'ada' });
  });
});

describe('recipe: React Router 7 (createRequestHandler, hand-built server build)', () => {
  let withMiddleware: ScenarioServer;
  let withoutMiddleware: ScenarioServer;

  beforeAll(async () => {
    const recipe = await import('./recipes/react-router.js');
    // The document renderer: the loader data as JSON instead of React's HTML.
    const entry = {
      handleError: () => {}, // the failing loader is on purpose: nothing to log
      default: (_request: Request, status: number, headers: Headers, context: { staticHandlerContext: { loaderData: unknown } }) => {
        headers.set('content-type', 'application/json');
        return new Response(JSON.stringify(context.staticHandlerContext.loaderData), { status, headers });
      },
    };
    const build = (routes: Record<string, unknown>) =>
      ({
        entry: { module: entry },
        routes,
        assets: { entry: { module: '/entry.js', imports: [] }, routes: {}, url: '/manifest.js', version: '1' },
        publicPath: '/',
        assetsBuildDirectory: '/tmp',
        future: { v8_middleware: true },
        ssr: true,
        isSpaMode: false,
        prerender: [],
        routeDiscovery: { mode: 'lazy', manifestPath: '/__manifest' },
      }) as unknown as ServerBuild;
    const Page = () => null;
    const boom = async ({ context }: { context: { get: (key: typeof recipe.sessionContext) => import('@sess/fetch').Session } }) => {
      context.get(recipe.sessionContext).put('user', 'mallory');
      throw new Error('the loader failed');
    };
    withMiddleware = await serving(
      createRequestHandler(
        build({
          root: { id: 'root', path: '', module: { default: Page, middleware: [recipe.sessionMiddleware] } },
          'routes/home': { id: 'routes/home', parentId: 'root', index: true, module: { default: Page, loader: recipe.loader } },
          'routes/sign-in': { id: 'routes/sign-in', parentId: 'root', path: 'sign-in', module: { default: Page, action: recipe.action } },
          'routes/boom': { id: 'routes/boom', parentId: 'root', path: 'boom', module: { loader: boom } },
        }),
        'production',
      ),
    );
    withoutMiddleware = await serving(
      createRequestHandler(
        build({
          root: { id: 'root', path: '', module: { default: Page } },
          'routes/api.visits': { id: 'routes/api.visits', parentId: 'root', path: 'api/visits', module: { loader: recipe.apiLoader } },
          'routes/counter': { id: 'routes/counter', parentId: 'root', path: 'counter', module: { default: Page, loader: recipe.pageLoader } },
        }),
        'production',
      ),
    );
  });

  it('middleware: one session per request for the loaders; the action signs in with a new id', async () => {
    const b = new HttpClient(withMiddleware.baseUrl);
    const home = await b.get('/');
    expect(home.status).toBe(200);
    const first = (await home.json()) as { 'routes/home': { visits: number; user: string | null; token: string } };
    expect(first['routes/home']).toMatchObject({ visits: 1, user: null });
    const before = [...b.cookies.values()][0];
    const signIn = await b.post('/sign-in', { form: { _token: first['routes/home'].token, user: 'ada' } });
    expect(signIn.status).toBe(302);
    expect(signIn.headers.get('location')).toBe('/');
    expect([...b.cookies.values()][0]).not.toBe(before);
    expect(((await (await b.get('/')).json()) as Record<string, unknown>)['routes/home']).toMatchObject({ visits: 1, user: 'ada' });
    // A client-side navigation's data request (single fetch) carries the cookie too.
    const dataRequest = await b.get('/_root.data');
    expect(dataRequest.status).toBe(200);
  });

  it('middleware: refuses an action without a valid token (403) before it runs', async () => {
    const b = new HttpClient(withMiddleware.baseUrl);
    await b.get('/');
    const refused = await b.post('/sign-in', { form: { _token: 'forged', user: 'eve' } });
    expect(refused.status).toBe(403);
    expect(((await (await b.get('/')).json()) as Record<string, { user: unknown }>)['routes/home']!.user).toBe(null);
  });

  it('middleware: a loader that throws answers 500 and the session change is rolled back', async () => {
    const b = new HttpClient(withMiddleware.baseUrl);
    await b.get('/');
    const failed = await b.get('/boom');
    expect(failed.status).toBe(500);
    expect(failed.headers.getSetCookie()).toEqual([]);
    expect(((await (await b.get('/')).json()) as Record<string, { user: unknown }>)['routes/home']!.user).toBe(null);
  });

  it('without middleware: a resource route through handle(), a page loader through data() and finish() headers', async () => {
    const b = new HttpClient(withoutMiddleware.baseUrl);
    expect(await (await b.get('/api/visits')).json()).toEqual({ visits: 1 });
    expect(await (await b.get('/api/visits')).json()).toEqual({ visits: 2 });
    const page = await b.get('/counter');
    expect(await page.json()).toMatchObject({ 'routes/counter': { visits: 3 } });
    expect(await (await b.get('/counter')).json()).toMatchObject({ 'routes/counter': { visits: 4 } });
    const fresh = new HttpClient(withoutMiddleware.baseUrl);
    const first = await fresh.get('/counter');
    expect(first.headers.getSetCookie()).toHaveLength(1);
  });
});
