import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURE, OWN, REPLACED, SHARED, filesOf } from './global-setup.ts';

describe('the Next 16 fixture is the Next 15 fixture with proxy.ts', () => {
  it('is assembled from every file of packages/next/test/fixture (but middleware.ts, next.config.mjs and the generated TypeScript files) and fixture-own/', () => {
    const shared = filesOf(SHARED).filter((file) => !REPLACED.has(file));
    expect(shared.length).toBeGreaterThan(20);
    const own = filesOf(OWN);
    for (const file of shared.filter((f) => !own.includes(f))) expect(readFileSync(join(FIXTURE, file), 'utf8'), file).toBe(readFileSync(join(SHARED, file), 'utf8'));
    // Next may rewrite next-env.d.ts and tsconfig.json when it builds: those are only required to be there.
    for (const file of own.filter((f) => !REPLACED.has(f))) expect(readFileSync(join(FIXTURE, file), 'utf8'), file).toBe(readFileSync(join(OWN, file), 'utf8'));
    expect(filesOf(FIXTURE).sort()).toEqual([...new Set([...shared, ...own])].sort());
    expect(filesOf(FIXTURE)).not.toContain('middleware.ts');
  });

  it('has proxy.ts doing what middleware.ts does there, without a runtime option', () => {
    const proxy = readFileSync(join(OWN, 'proxy.ts'), 'utf8');
    expect(proxy).toMatch(/export async function proxy\(/);
    expect(proxy).not.toMatch(/runtime\s*:/); // Next 16 throws on a runtime config in proxy.ts
    for (const line of ["if (request.nextUrl.pathname === '/mw')", "request.headers.get('x-sess-router') === 'pages'", "url.pathname = `/api/pr/"]) {
      expect(readFileSync(join(SHARED, 'middleware.ts'), 'utf8')).toContain(line);
      expect(proxy).toContain(line);
    }
  });
});
