import { readFileSync } from 'node:fs';
import { HttpClient } from '@sess/test-utils';
import { describe, expect, inject, it } from 'vitest';

const baseUrl = inject('nextUrl');
const NOT_WRITABLE = '[sess] cannot set the session cookie while a server component renders';

/** Text of the element with `id` in server-rendered HTML (React's text separators and escapes undone). */
function text(html: string, id: string): string {
  const match = new RegExp(`id="${id}"[^>]*>([\\s\\S]*?)</`).exec(html.replaceAll('<!-- -->', ''));
  if (!match) throw new Error(`no element #${id} in:\n${html.slice(0, 2000)}`);
  return match[1]!.replaceAll('&quot;', '"').replaceAll('&#x27;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
}

async function page(client: HttpClient, path: string): Promise<string> {
  const response = await client.get(path);
  expect(response.status, path).toBe(200);
  return response.text();
}

/** Submits a form of /form the way a browser without JavaScript does: multipart (the form's encType), with the action id field. */
async function submitAction(client: HttpClient, formId: string, fields: Record<string, string>): Promise<Response> {
  const html = await page(client, '/form');
  const form = new RegExp(`<form id="${formId}"[\\s\\S]*?</form>`).exec(html)?.[0] ?? '';
  const field = /name="(\$ACTION_ID_[^"]+)"/.exec(form)?.[1];
  if (!field) throw new Error(`no server action id in form #${formId}`);
  const body = new FormData();
  body.set(field, '');
  for (const [key, value] of Object.entries(fields)) body.set(key, value);
  return client.post('/form', { body, headers: { origin: baseUrl } });
}

async function storeSize(): Promise<number> {
  const response = await fetch(new URL('/api/store', baseUrl));
  return ((await response.json()) as { size: number }).size;
}

async function signedInClient(name = 'Ada'): Promise<HttpClient> {
  const client = new HttpClient(baseUrl);
  const response = await client.post('/api/plain', { json: { name } });
  expect(response.status).toBe(200);
  expect(client.cookies.has('sess')).toBe(true);
  return client;
}

describe('App Router: server actions and server components', () => {
  it('a server action stores a value and flashes; the redirected page shows the flash once, in layout and page', async () => {
    const client = new HttpClient(baseUrl);
    const response = await submitAction(client, 'save', { name: 'Ada' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/show');
    expect(response.headers.getSetCookie().join('\n')).toMatch(/^sess=[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=lax/im);

    const first = await page(client, '/show');
    expect(text(first, 'name')).toBe('Ada');
    expect(text(first, 'notice')).toBe('Saved Ada');
    expect(text(first, 'layout-notice')).toBe('Saved Ada');

    const second = await page(client, '/show');
    expect(text(second, 'name')).toBe('Ada');
    expect(text(second, 'notice')).toBe('');
    expect(text(second, 'layout-notice')).toBe('');
  });

  it('a server action that signs in regenerates the id: new cookie, data kept, the old cookie is dead', async () => {
    const client = new HttpClient(baseUrl);
    await submitAction(client, 'save', { name: 'Grace' });
    await page(client, '/show'); // consume the "Saved" flash
    const before = client.clone();
    const response = await submitAction(client, 'sign-in', { user: 'grace' });
    expect(response.status).toBe(303);
    expect(client.cookies.get('sess')).not.toBe(before.cookies.get('sess'));

    const html = await page(client, '/show');
    expect(text(html, 'user')).toBe('grace');
    expect(text(html, 'name')).toBe('Grace');
    expect(text(html, 'notice')).toBe('Signed in');

    const stale = await page(before, '/show');
    expect(text(stale, 'name')).toBe('');
    expect(text(stale, 'user')).toBe('');
  });

  it('a server component changes data of an existing session (store only, no cookie)', async () => {
    const client = await signedInClient();
    const first = await client.get('/rsc-write');
    expect(text(await first.text(), 'result')).toBe('visits 1');
    expect(first.headers.getSetCookie()).toEqual([]);
    expect(text(await page(client, '/rsc-write'), 'result')).toBe('visits 2');
    expect(await (await client.get('/api/counter')).json()).toEqual({ visits: 2, name: 'Ada' });
  });

  it('a server component that would create a session gets E_COOKIE_NOT_WRITABLE and stores nothing', async () => {
    const sizeBefore = await storeSize();
    const client = new HttpClient(baseUrl);
    const response = await client.get('/rsc-create');
    expect(response.status).toBe(200);
    // (err.name is not checked: core derives it from new.target.name, which Next's server minifier mangles.)
    const [isSessionError, , code, message] = text(await response.text(), 'result').split('|');
    expect({ isSessionError, code }).toEqual({ isSessionError: 'true', code: 'E_COOKIE_NOT_WRITABLE' });
    expect(message).toContain(NOT_WRITABLE);
    expect(message).toContain('server actions, route handlers and middleware');
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(client.cookies.size).toBe(0);
    expect(await storeSize()).toBe(sizeBefore);
  });

  it('the uncaught error fails the render with the [sess] message in the server log', async () => {
    const response = await new HttpClient(baseUrl).get('/rsc-create-uncaught');
    expect(response.status).toBe(500);
    await expect.poll(() => readFileSync(inject('nextLog'), 'utf8')).toContain(NOT_WRITABLE);
  });

  it('regenerating in a server component is refused and the session survives untouched', async () => {
    const client = await signedInClient('Lin');
    const cookie = client.cookies.get('sess');
    const sizeBefore = await storeSize();
    expect(text(await page(client, '/rsc-regenerate'), 'result')).toBe('E_COOKIE_NOT_WRITABLE');
    expect(client.cookies.get('sess')).toBe(cookie);
    expect(await storeSize()).toBe(sizeBefore);
    expect(await (await client.get('/api/counter')).json()).toEqual({ visits: 0, name: 'Lin' });
  });
});

describe('App Router: route handlers', () => {
  it('getSession() in a route handler sets the cookie through cookies() on save()', async () => {
    const client = await signedInClient('Ken');
    expect(await (await client.get('/api/counter')).json()).toEqual({ visits: 0, name: 'Ken' });
  });

  it('withSession() commits what the handler changed without save()', async () => {
    const client = new HttpClient(baseUrl);
    const first = await client.post('/api/counter');
    expect(await first.json()).toEqual({ visits: 1 });
    expect(first.headers.getSetCookie()).toHaveLength(1);
    const second = await client.post('/api/counter');
    expect(await second.json()).toEqual({ visits: 2 });
    expect(second.headers.getSetCookie()).toEqual([]); // same session: the cookie need not change
    expect(await (await client.get('/api/counter')).json()).toEqual({ visits: 2, name: null });
  });

  it('a route handler regenerates: new cookie, data kept, the old cookie no longer works', async () => {
    const client = await signedInClient('Ida');
    const old = client.clone();
    const response = await client.post('/api/regenerate');
    expect(await response.json()).toEqual({ changed: true, name: 'Ida' });
    expect(client.cookies.get('sess')).not.toBe(old.cookies.get('sess'));
    expect(await (await client.get('/api/counter')).json()).toEqual({ visits: 0, name: 'Ida' });
    expect(await (await old.get('/api/counter')).json()).toEqual({ visits: 0, name: null });
  });

  it('destroy in a handler that returns Response.redirect() (immutable headers) still expires the cookie', async () => {
    const client = await signedInClient('Max');
    const old = client.clone();
    const response = await client.post('/api/destroy');
    expect(response.status).toBe(303);
    expect(response.headers.getSetCookie().join('\n')).toMatch(/^sess=; Max-Age=0/m);
    expect(client.cookies.has('sess')).toBe(false);
    expect(await (await old.get('/api/counter')).json()).toEqual({ visits: 0, name: null });
  });
});

describe('Pages Router', () => {
  it('an API route reads what a server action wrote, and withSessionRoute saves on res.json()', async () => {
    const client = new HttpClient(baseUrl);
    await submitAction(client, 'save', { name: 'Ada' });
    expect(await (await client.get('/api/whoami')).json()).toEqual({ name: 'Ada', visits: 0, pagesVisits: 1, isNew: false });
    expect(await (await client.get('/api/whoami')).json()).toMatchObject({ pagesVisits: 2 });
  });

  it('withSessionRoute creates a session and sets its cookie', async () => {
    const client = new HttpClient(baseUrl);
    const response = await client.get('/api/whoami');
    expect(await response.json()).toEqual({ name: null, visits: 0, pagesVisits: 1, isNew: true });
    expect(client.cookies.has('sess')).toBe(true);
    expect(await (await client.get('/api/whoami')).json()).toMatchObject({ pagesVisits: 2, isNew: false });
  });

  it('getPagesSession(): a new session changed after the headers went out: save() refuses it and nothing is stored', async () => {
    const sizeBefore = await storeSize();
    const client = new HttpClient(baseUrl);
    const response = await client.get('/api/late-save');
    expect(await response.text()).toBe('started|E_COOKIE_NOT_WRITABLE');
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(await storeSize()).toBe(sizeBefore);
  });

  it('getServerSideProps wrapped in withSessionSsr reads and saves the session', async () => {
    const client = await signedInClient('Eve');
    const first = await page(client, '/ssr');
    expect(text(first, 'name')).toBe('Eve');
    expect(text(first, 'pages-visits')).toBe('1');
    expect(text(await page(client, '/ssr'), 'pages-visits')).toBe('2');
    const fresh = new HttpClient(baseUrl);
    expect(text(await page(fresh, '/ssr'), 'pages-visits')).toBe('1');
    expect(fresh.cookies.has('sess')).toBe(true);
  });
});

describe('middleware and forgotten saves', () => {
  it('withSession() as middleware (Node.js runtime) creates a session the next request sees', async () => {
    const client = new HttpClient(baseUrl);
    const response = await client.get('/mw?tag=hello');
    expect(response.status).toBe(200);
    expect(response.headers.getSetCookie().join('\n')).toMatch(/^sess=[\w-]+\.[\w-]+;/m);
    expect(await (await client.get('/get?key=middleware')).json()).toEqual({ value: 'hello', has: true });
  });

  it('a change without save() is lost and reported as a SessWarning once the response is sent', async () => {
    const client = await signedInClient('Zoe');
    expect(text(await page(client, '/forgot'), 'result')).toBe('changed');
    expect(await (await client.get('/get?key=forgotten')).json()).toEqual({ value: null, has: false });
    await expect.poll(() => readFileSync(inject('nextLog'), 'utf8')).toContain('[sess] the session was changed but never saved');
  });

  it('a session that was saved raises no warning', async () => {
    const client = await signedInClient('Ann');
    const before = readFileSync(inject('nextLog'), 'utf8').split('never saved').length;
    await page(client, '/rsc-write');
    await page(client, '/show');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(readFileSync(inject('nextLog'), 'utf8').split('never saved').length).toBe(before);
  });
});

describe('withSession onError', () => {
  it('answers a refused CSRF check with the page onError returns, and the handler does not run', async () => {
    const client = new HttpClient(baseUrl);
    const response = await client.post('/api/guarded', { form: { _token: 'A'.repeat(43) }, headers: { origin: baseUrl } });
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toBe('text/html');
    expect(await response.text()).toBe('custom page: 403 E_CSRF');
  });

  it('answers a store failure at commit with the page onError returns too', async () => {
    await fetch(new URL('/api/test-store?down=1', baseUrl), { method: 'POST' });
    try {
      const response = await new HttpClient(baseUrl).get('/api/guarded');
      expect(response.status).toBe(503);
      expect(await response.text()).toBe('custom page: 503 E_STORE');
      expect(response.headers.getSetCookie()).toEqual([]);
    } finally {
      await fetch(new URL('/api/test-store?down=0', baseUrl), { method: 'POST' });
    }
  });
});

