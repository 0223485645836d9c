import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from './chromium.js';

/**
 * The browser walk-through every demo must pass, step by step as a person
 * clicks, with a screenshot per step. Takes vitest's functions from the test
 * file, so that the demo's own vitest instance runs them.
 *
 * @param {{ describe: Function, it: Function, expect: any, beforeAll: Function, afterAll: Function }} t
 * @param {{ name: string, screenshotDir: string, start: () => Promise<{ url: string, stop: () => Promise<void>, output: () => string }> }} options
 */
export function browserScenario(t, { name, screenshotDir, start }) {
  const { describe, it, expect, beforeAll, afterAll } = t;

  describe(`${name} in Chromium`, () => {
    /** @type {Awaited<ReturnType<typeof start>>} */
    let demo;
    /** @type {import('playwright-core').Browser} */
    let browser;
    /** @type {import('playwright-core').BrowserContext} */
    let first;
    /** @type {import('playwright-core').BrowserContext} */
    let second;
    /** @type {import('playwright-core').Page} */
    let page;
    /** @type {import('playwright-core').Page} */
    let other;
    let shot = 0;
    /** @type {string} */
    let cookieName;

    /** @param {import('playwright-core').Page} p @param {string} label */
    const snap = async (p, label) => {
      shot += 1;
      await p.screenshot({ path: join(screenshotDir, `${String(shot).padStart(2, '0')}-${label}.png`), fullPage: true });
    };
    /** @param {import('playwright-core').BrowserContext} context */
    const sessionCookie = async (context) => (await context.cookies()).find((c) => c.name === cookieName)?.value;
    /** @param {import('playwright-core').Page} p */
    const flash = (p, kind = 'success') => p.getByTestId(`flash-${kind}`);
    /** Each page has one <title>, its own: "<h1> · sess <framework> demo". @param {import('playwright-core').Page} p */
    const expectOwnTitle = async (p) => {
      await expect(p.locator('title').count()).resolves.toBe(1);
      const heading = await p.getByRole('heading', { level: 1 }).textContent();
      await expect(p.title()).resolves.toBe(`${heading} · sess ${frameworkOf(name)} demo`);
    };

    beforeAll(async () => {
      rmSync(screenshotDir, { recursive: true, force: true });
      mkdirSync(screenshotDir, { recursive: true });
      console.log(`${name}: screenshots in ${screenshotDir}`);
      [demo, browser] = await Promise.all([start(), launchChromium()]);
      cookieName = `sess-${name.replace(/-demo$/, '')}`;
      first = await browser.newContext({ baseURL: demo.url, viewport: { width: 1000, height: 700 }, userAgent: 'Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/140 first-browser' });
      second = await browser.newContext({ baseURL: demo.url, viewport: { width: 1000, height: 700 }, userAgent: 'Mozilla/5.0 (Macintosh; Mac OS X) HeadlessChrome/140 second-browser' });
      page = await first.newPage();
      other = await second.newPage();
    });

    afterAll(async () => {
      await browser?.close();
      await demo?.stop();
    });

    it('counts visits in the session', async () => {
      await page.goto('/');
      await expect(page.getByTestId('visits').textContent()).resolves.toBe('1');
      await page.reload();
      await expect(page.getByTestId('visits').textContent()).resolves.toBe('2');
      expect(await sessionCookie(first)).toBeTruthy();
      await expectOwnTitle(page);
      await snap(page, 'visit-counter');
    });

    it('signs in through the CSRF form with a new session id, and greets once', async () => {
      const before = await sessionCookie(first);
      await page.goto('/sign-in');
      await expectOwnTitle(page);
      await page.getByLabel('User name').fill('ada');
      await snap(page, 'sign-in-form');
      await Promise.all([page.waitForURL(`${demo.url}/`), page.getByRole('button', { name: 'Sign in' }).click()]);
      await expect(flash(page).textContent()).resolves.toBe('Welcome back, ada!');
      await expect(page.getByTestId('user').textContent()).resolves.toBe('ada');
      const after = await sessionCookie(first);
      expect(after).toBeTruthy();
      expect(after).not.toBe(before);
      // regenerateId() started fresh data: the counter is back at 1, and the page says why.
      await expect(page.getByTestId('visits').textContent()).resolves.toBe('1');
      await expect(page.getByTestId('visits-note').textContent()).resolves.toMatch(/regenerateId\(\).*fresh data/);
      await expectOwnTitle(page);
      await snap(page, 'welcome-flash');
      await page.reload();
      await expect(flash(page).count()).resolves.toBe(0);
      await expect(page.getByTestId('user').textContent()).resolves.toBe('ada');
      await snap(page, 'reloaded-flash-gone');
    });

    it('refuses a replayed form submission (same CSRF token) with a 403 page', async () => {
      await page.goto('/flash');
      const form = page.locator('form', { has: page.getByRole('button', { name: 'Flash a message' }) });
      const token = await form.locator('input[name="_token"]').getAttribute('value');
      const action = /** @type {string} */ (await form.getAttribute('action'));
      expect(token).toBeTruthy();
      await Promise.all([page.waitForURL(`${demo.url}/flash`), page.getByRole('button', { name: 'Flash a message' }).click()]);
      await expect(flash(page, 'notice').textContent()).resolves.toMatch(/reload and it is gone/);
      await snap(page, 'flash-message');
      // The same submission again, from the page itself: same origin, same token.
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === action),
        page.evaluate(([value, target]) => {
          const form = document.createElement('form');
          form.method = 'post';
          form.action = target;
          for (const [k, v] of [['_token', value], ['mode', 'once']]) {
            const input = document.createElement('input');
            input.type = 'hidden';
            input.name = /** @type {string} */ (k);
            input.value = /** @type {string} */ (v);
            form.append(input);
          }
          document.body.append(form);
          form.submit();
        }, [token, action]),
      ]);
      expect(response.status()).toBe(403);
      await page.waitForLoadState();
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Form refused');
      await snap(page, 'csrf-replay-refused');
      // The refusal signed nobody out.
      await page.goto('/');
      await expect(page.getByTestId('user').textContent()).resolves.toBe('ada');
    });

    it('reflash keeps a message for one more page', async () => {
      await page.goto('/flash');
      await Promise.all([page.waitForURL(`${demo.url}/flash`), page.getByRole('button', { name: 'Flash, then reflash it' }).click()]);
      await expect(flash(page, 'notice').textContent()).resolves.toMatch(/reflashed/);
      await expect(page.getByTestId('reflashed').count()).resolves.toBe(1);
      // The hint sits below the buttons, clear of them.
      const hint = await page.getByTestId('reflashed').boundingBox();
      const buttons = await page.getByRole('button', { name: 'Flash, then reflash it' }).boundingBox();
      expect(hint && buttons && hint.y >= buttons.y + buttons.height + 8).toBe(true);
      await expectOwnTitle(page);
      await snap(page, 'reflash-first-page');
      await page.goto('/');
      await expect(flash(page, 'notice').textContent()).resolves.toMatch(/reflashed/);
      await snap(page, 'reflash-second-page');
      await page.reload();
      await expect(flash(page, 'notice').count()).resolves.toBe(0);
    });

    it('gives a second browser its own session', async () => {
      await other.goto('/');
      await expect(other.getByTestId('visits').textContent()).resolves.toBe('1');
      await expect(other.getByTestId('user').count()).resolves.toBe(0);
      await other.goto('/session');
      const otherId = await other.getByTestId('session-id').textContent();
      await page.goto('/session');
      const firstId = await page.getByTestId('session-id').textContent();
      expect(otherId).toMatch(/…$/);
      expect(otherId).not.toBe(firstId);
      await expect(page.getByTestId('store').textContent()).resolves.toBe('file');
      await expectOwnTitle(page);
      await snap(page, 'this-session');
      await snap(other, 'second-browser-session');
    });

    it('lists both sessions and signs out everywhere else', async () => {
      await other.goto('/sign-in');
      await other.getByLabel('User name').fill('ada');
      await Promise.all([other.waitForURL(`${demo.url}/`), other.getByRole('button', { name: 'Sign in' }).click()]);
      await expect(other.getByTestId('user').textContent()).resolves.toBe('ada');

      await page.goto('/sessions');
      const rows = page.getByTestId('sessions').locator('tbody tr');
      await expect(rows.count()).resolves.toBe(2);
      await expect(page.locator('tr.current').count()).resolves.toBe(1);
      await expect(page.locator('tr.current').textContent()).resolves.toMatch(/on Linux/);
      await expectOwnTitle(page);
      await snap(page, 'your-sessions-two');
      await Promise.all([page.waitForURL(`${demo.url}/sessions`), page.getByRole('button', { name: /Sign out everywhere else/ }).click()]);
      await expect(flash(page).textContent()).resolves.toBe('Signed out 1 other session.');
      await expect(rows.count()).resolves.toBe(1);
      await snap(page, 'your-sessions-one');

      await other.goto('/sessions');
      expect(new URL(other.url()).pathname).toBe('/sign-in');
      await expect(flash(other, 'error').textContent()).resolves.toMatch(/Sign in/);
      await expect(other.getByTestId('user').count()).resolves.toBe(0);
      await snap(other, 'other-browser-signed-out');
    });

    it('serves /favicon.ico, linked from every page', async () => {
      await page.goto('/');
      await expect(page.locator('link[rel="icon"]').getAttribute('href')).resolves.toBe('/favicon.ico');
      const icon = await page.request.get('/favicon.ico');
      expect(icon.status()).toBe(200);
      expect(icon.headers()['content-type']).toBe('image/x-icon');
      expect([...(await icon.body()).subarray(0, 4)]).toEqual([0, 0, 1, 0]); // an ICO file
      expect(icon.headers()['set-cookie']).toBeUndefined(); // no session for an icon
    });

    it('answers an unknown path with the styled 404 page', async () => {
      const response = await page.goto('/no-such-page');
      expect(response?.status()).toBe(404);
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Not found');
      await expect(page.locator('link[rel="stylesheet"]').getAttribute('href')).resolves.toBe('/style.css');
      await expectOwnTitle(page);
      await snap(page, 'not-found');
    });

    it('signs out and loses access, even with the old cookie', async () => {
      await page.goto('/');
      const oldCookie = (await first.cookies()).find((c) => c.name === cookieName);
      await Promise.all([page.waitForURL(`${demo.url}/`), page.getByRole('button', { name: 'Sign out' }).click()]);
      await expect(flash(page).textContent()).resolves.toBe('You are signed out.');
      await expect(page.getByTestId('user').count()).resolves.toBe(0);
      await snap(page, 'signed-out');
      await page.goto('/sessions');
      expect(new URL(page.url()).pathname).toBe('/sign-in');

      // A copy of the cookie from before the sign-out opens nothing.
      const thief = await browser.newContext({ baseURL: demo.url });
      await thief.addCookies([/** @type {any} */ (oldCookie)]);
      const stolen = await thief.newPage();
      await stolen.goto('/sessions');
      expect(new URL(stolen.url()).pathname).toBe('/sign-in');
      await thief.close();
    });
  });
}

/** "express-demo" → "Express", as the pages name their framework. @param {string} name */
function frameworkOf(name) {
  return /** @type {Record<string, string>} */ ({ 'express-demo': 'Express', 'koa-demo': 'Koa', 'next-demo': 'Next.js', 'fastify-demo': 'Fastify', 'hono-demo': 'Hono' })[name] ?? name;
}

/**
 * With the store down, a visitor without a cookie gets the same styled 503
 * page as a returning one, and the demo logs the failure in one line. The
 * file store is broken by putting a file where its folder was.
 *
 * @param {{ describe: Function, it: Function, expect: any, beforeAll: Function, afterAll: Function }} t
 * @param {{ name: string, start: () => Promise<{ url: string, dataDir: string, stop: () => Promise<void>, output: () => string }> }} options
 */
export function storeDownScenario(t, { name, start }) {
  const { describe, it, expect, beforeAll, afterAll } = t;

  describe(`${name} with the session store down`, () => {
    /** @type {Awaited<ReturnType<typeof start>>} */
    let demo;
    /** @type {import('playwright-core').Browser} */
    let browser;

    beforeAll(async () => {
      [demo, browser] = await Promise.all([start(), launchChromium()]);
    });

    afterAll(async () => {
      await browser?.close();
      await demo?.stop();
    });

    /** @param {import('playwright-core').Page} page @param {import('playwright-core').Response | null} response */
    const expectStyled503 = async (page, response) => {
      expect(response?.status()).toBe(503);
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Sessions unavailable');
      await expect(page.locator('link[rel="stylesheet"]').getAttribute('href')).resolves.toBe('/style.css');
      await expect(page.title()).resolves.toBe(`Sessions unavailable · sess ${frameworkOf(name)} demo`);
    };

    it('gives a new and a returning visitor the same 503 page, and logs the failure', async () => {
      const returning = await browser.newContext({ baseURL: demo.url });
      const back = await returning.newPage();
      await back.goto('/');
      await expect(back.getByTestId('visits').textContent()).resolves.toBe('1');

      const sessions = `${demo.dataDir}/sessions`;
      rmSync(sessions, { recursive: true, force: true });
      writeFileSync(sessions, 'not a folder: the store cannot work\n');
      try {
        await expectStyled503(back, await back.goto('/'));

        const fresh = await browser.newContext({ baseURL: demo.url });
        const page = await fresh.newPage();
        await expectStyled503(page, await page.goto('/'));
        expect(demo.output()).toMatch(/^error: the session store failed \(FileStore\.\w+\): .*ENOTDIR/m);
        await fresh.close();
      } finally {
        rmSync(sessions, { force: true });
        await returning.close();
      }
    });
  });
}
