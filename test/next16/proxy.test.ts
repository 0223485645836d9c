import { HttpClient } from '@sess/test-utils';
import { describe, expect, inject, it } from 'vitest';

const baseUrl = inject('nextUrl');

/** Text of the element with `id` in server-rendered HTML. */
function text(html: string, id: string): string {
  const match = new RegExp(`id="${id}"[^>]*>([\\s\\S]*?)</`).exec(html.replaceAll('<!-- -->', ''));
  if (!match) throw new Error(`no element #${id} in:\n${html.slice(0, 2000)}`);
  return match[1]!;
}

async function storeSize(): Promise<number> {
  return ((await (await fetch(new URL('/api/store', baseUrl))).json()) as { size: number }).size;
}

async function signIn(client: HttpClient, user: string): Promise<void> {
  const response = await client.post('/api/sign-in', { json: { user } });
  expect(await response.json()).toEqual({ user });
  expect(client.cookies.has('sess')).toBe(true);
}

describe('Next 16 proxy.ts', () => {
  it('runs on Next 16', () => {
    expect(inject('nextVersion')).toMatch(/^16\./);
  });

  it('redirects a signed-out visitor of /account to /login, without creating a session', async () => {
    const sizeBefore = await storeSize();
    const client = new HttpClient(baseUrl);
    const response = await client.get('/account');
    expect(response.status).toBe(303);
    expect(new URL(response.headers.get('location')!, baseUrl).pathname + new URL(response.headers.get('location')!, baseUrl).search).toBe('/login?next=%2Faccount');
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(client.cookies.size).toBe(0);
    expect(await storeSize()).toBe(sizeBefore);

    const signin = await client.get('/login?next=%2Faccount');
    expect(signin.status).toBe(200);
    const html = await signin.text();
    expect(text(html, 'next')).toBe('/account');
    expect(text(html, 'signed-in')).toBe('false');
  });

  it('redirects a visitor whose cookie names no session (forged, expired or signed out)', async () => {
    const client = new HttpClient(baseUrl);
    client.cookies.set('sess', `${'A'.repeat(43)}.${'B'.repeat(43)}`);
    expect((await client.get('/account')).status).toBe(303);

    const visitor = new HttpClient(baseUrl);
    expect((await visitor.post('/api/counter')).status).toBe(200); // a session, but nobody signed in
    expect((await visitor.get('/account')).status).toBe(303);
  });

  it('lets a signed-in user through; the server component reads the session with async cookies()', async () => {
    const client = new HttpClient(baseUrl);
    await signIn(client, 'ada');
    const response = await client.get('/account');
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(text(html, 'user')).toBe('ada');
    expect(text(html, 'has-cookie')).toBe('true');
    expect(response.headers.getSetCookie()).toEqual([]);
  });

  it('data written in a route handler is what the page behind proxy.ts shows; sign-out closes /account again', async () => {
    const client = new HttpClient(baseUrl);
    await signIn(client, 'grace');
    expect((await client.post('/api/plain', { json: { name: 'Grace Hopper' } })).status).toBe(200);
    expect(text(await (await client.get('/account')).text(), 'name')).toBe('Grace Hopper');

    const stolen = client.clone();
    const out = await client.request('/api/sign-in', { method: 'DELETE' });
    expect(out.status).toBe(200);
    expect(client.cookies.has('sess')).toBe(false);
    expect((await client.get('/account')).status).toBe(303);
    expect((await stolen.get('/account')).status).toBe(303); // the old cookie is dead too
  });

  it('a session created in proxy.ts (withSession) reaches a server component on the next request', async () => {
    const client = new HttpClient(baseUrl);
    const response = await client.get('/mw?tag=proxy');
    expect(response.status).toBe(200);
    expect(client.cookies.has('sess')).toBe(true);
    expect(await (await client.get('/get?key=middleware')).json()).toEqual({ value: 'proxy', has: true });
  });
});

describe('one Next in the server process', () => {
  it('every `next` module the server loaded is Next 16, next/headers.js of @sess/next included (its workspace copy sits beside Next 15)', async () => {
    // The requests above ran getSession() in proxy.ts, route handlers and server
    // components; this probe also runs it in the Pages Router (where it refuses).
    const client = new HttpClient(baseUrl);
    await signIn(client, 'lin');
    expect((await client.get('/account')).status).toBe(200);
    const response = await client.get('/api/next-versions');
    expect(await response.json()).toEqual({ getSession: 'E_UNSUPPORTED', versions: [inject('nextVersion')] });
  });
});
