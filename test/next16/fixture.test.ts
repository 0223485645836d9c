import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const next15 = fileURLToPath(new URL('../../packages/next/test/fixture/', import.meta.url));
const next16 = fileURLToPath(new URL('./fixture/', import.meta.url));

/** Files of the Next 15 fixture that differ here on purpose (middleware.ts became proxy.ts). */
const OWN = new Set(['middleware.ts', 'next.config.mjs', 'next-env.d.ts', 'tsconfig.json']);

function files(dir: string, root = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === '.next' || entry.name === 'node_modules') return [];
    const path = join(dir, entry.name);
    return entry.isDirectory() ? files(path, root) : [relative(root, path)];
  });
}

describe('the Next 16 fixture is the Next 15 fixture', () => {
  it('has every file of packages/next/test/fixture, unchanged, but middleware.ts, next.config.mjs and the generated TypeScript files', () => {
    const shared = files(next15).filter((file) => !OWN.has(file));
    expect(shared.length).toBeGreaterThan(20);
    for (const file of shared) expect(readFileSync(join(next16, file), 'utf8'), file).toBe(readFileSync(join(next15, file), 'utf8'));
  });

  it('has proxy.ts doing what middleware.ts does there, without a runtime option', () => {
    const proxy = readFileSync(join(next16, 'proxy.ts'), 'utf8');
    expect(proxy).toMatch(/export async function proxy\(/);
    expect(proxy).not.toMatch(/runtime\s*:/); // Next 16 throws on a runtime config in proxy.ts
    for (const line of ["if (request.nextUrl.pathname === '/mw')", "request.headers.get('x-sess-router') === 'pages'", "url.pathname = `/api/pr/"]) {
      expect(readFileSync(join(next15, 'middleware.ts'), 'utf8')).toContain(line);
      expect(proxy).toContain(line);
    }
  });
});
