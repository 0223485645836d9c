import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KNOWN_FAILURES } from './known-failures.js';
import { collectSnippets, extractSnippets } from './snippets.js';
import { SnippetChecker, snippetSource } from './typecheck.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..', '..');
const outDir = join(here, '.snippets');

const snippets = collectSnippets(root);
const built = ['core', 'express', 'koa', 'next', 'store-file', 'store-knex', 'store-redis'].filter(
  (name) => !existsSync(join(root, 'packages', name, 'dist', 'index.d.ts')),
);

describe('extracting README blocks', () => {
  it('finds the TypeScript blocks of the READMEs, with their directives and lines', () => {
    const text = [
      '# x', // 1
      '```sh', // 2
      'pnpm add x', // 3
      '```', // 4
      '<!-- check-with: declare const a: number; -->', // 5
      '', // 6
      '```ts', // 7
      'a + 1;', // 8
      '```', // 9
      '- item:', // 10
      '  ```typescript', // 11
      '  const b = 2;', // 12
      '  ```', // 13
      '<!-- not-checked: a fragment of a type -->', // 14
      '```tsx', // 15
      '{ a: 1 }', // 16
      '```', // 17
    ].join('\n');
    const found = extractSnippets('x/README.md', text);
    expect(found.map((s) => [s.id, s.line, s.language, s.code, s.prelude, s.notChecked])).toEqual([
      ['x/README.md#1', 7, 'ts', 'a + 1;', 'declare const a: number;', undefined],
      ['x/README.md#2', 11, 'ts', 'const b = 2;', '', undefined],
      ['x/README.md#3', 15, 'tsx', '{ a: 1 }', '', 'a fragment of a type'],
    ]);
  });

  it('finds READMEs at the root, in packages/* and in apps/*', () => {
    const readmes = new Set(snippets.map((s) => s.readme));
    expect(readmes.has('README.md')).toBe(true);
    expect([...readmes].some((r) => r.startsWith('packages/'))).toBe(true);
    expect(snippets.length).toBeGreaterThan(10);
  });

  it('every not-checked block says why, and every known failure names a block that exists', () => {
    for (const s of snippets) if (s.notChecked !== undefined) expect(s.notChecked, `${s.id} (line ${s.line})`).not.toBe('');
    const ids = new Set(snippets.map((s) => s.id));
    for (const id of Object.keys(KNOWN_FAILURES)) expect(ids.has(id), `known-failures.ts names ${id}, which is not a TypeScript block`).toBe(true);
  });
});

describe('README TypeScript blocks typecheck against the built packages', () => {
  if (built.length > 0) {
    it('needs the packages built', () => {
      throw new Error(`packages not built (${built.join(', ')}): run \`pnpm build\` first (\`pnpm test\` does).`);
    });
    return;
  }
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const checker = new SnippetChecker();

  for (const snippet of snippets) {
    const name = `${snippet.id} (line ${snippet.line})`;
    if (snippet.notChecked !== undefined) {
      it.skip(`${name}: not checked: ${snippet.notChecked}`, () => {});
      continue;
    }
    const file = join(outDir, `${snippet.id.replace(/[/#]/g, '_').replace(/\.md_/, '-')}.${snippet.language}`);
    writeFileSync(file, snippetSource(snippet));
    const known = KNOWN_FAILURES[snippet.id];
    const check = () => {
      const problems = checker.check(file, snippet);
      const report = problems.map((p) => `${snippet.readme}:${p.line}: ${p.message}`).join('\n');
      expect(report, `${name} does not typecheck (extracted to ${file})`).toBe('');
    };
    // A known failure must still fail: once the block is fixed, this says so
    // and the entry in known-failures.ts goes.
    if (known) it.fails(`${name} [known failure: ${known}]`, check);
    else it(name, check);
  }
});
