import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserScenario, startDemo, storeDownScenario } from 'demo-kit/testing';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const start = () => startDemo({ name: 'next-demo', cwd: appDir, command: process.execPath, args: ['scripts/start.mjs'] });

browserScenario(
  { describe, it, expect, beforeAll, afterAll },
  {
    name: 'next-demo',
    screenshotDir: fileURLToPath(new URL('../test-results/screenshots/next-demo', import.meta.url)),
    start,
  },
);

storeDownScenario({ describe, it, expect, beforeAll, afterAll }, { name: 'next-demo', start });

describe('next-demo for a client without cookies (curl -L)', () => {
  let demo: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    demo = await start();
  });
  afterAll(() => demo?.stop());

  it('follows the redirects to the page, with a note instead of a 400', async () => {
    let url = `${demo.url}/`;
    const hops: string[] = [];
    let response: Response;
    for (;;) {
      response = await fetch(url, { redirect: 'manual' }); // no cookie jar: every request is cookie-less
      const location = response.headers.get('location');
      if (!location || response.status < 300 || response.status >= 400) break;
      url = new URL(location, url).href;
      hops.push(new URL(url).pathname + new URL(url).search);
      expect(hops.length).toBeLessThan(6);
    }
    expect(response.status).toBe(200);
    expect(hops.at(-1)).toBe('/?cookies=off');
    const body = await response.text();
    expect(body).toContain('did not keep the session cookie');
    expect(body).toContain('data-testid="visits"');
  });
});
