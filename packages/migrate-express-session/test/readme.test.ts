/**
 * Every TypeScript block of this package's README, typechecked against the
 * built package (each block its own program, as an app would import it).
 * test/readme checks every other README; it does not depend on this package,
 * so the blocks are marked not-checked there and checked here.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m, i) => ({ n: i + 1, code: m[1]!, line: readme.slice(0, m.index).split('\n').length }));

const options: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  moduleDetection: ts.ModuleDetectionKind.Force,
  lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
  types: ['node'],
  esModuleInterop: true,
  skipLibCheck: true,
};

describe('README TypeScript blocks typecheck against the built package', () => {
  it('has blocks to check', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
  });

  it.each(blocks)('block $n (README line $line)', ({ code, n }) => {
    // A file inside the package: `@sess/migrate-express-session` resolves to its own built types.
    const file = join(root, 'test', `__readme_block_${n}.ts`);
    const host = ts.createCompilerHost(options, true);
    const { getSourceFile, fileExists, readFile } = host;
    host.getSourceFile = (name, version, onError, create) => (name === file ? ts.createSourceFile(name, code, version, true) : getSourceFile.call(host, name, version, onError, create));
    host.fileExists = (name) => name === file || fileExists.call(host, name);
    host.readFile = (name) => (name === file ? code : readFile.call(host, name));
    const program = ts.createProgram({ rootNames: [file], options, host });
    const source = program.getSourceFile(file)!;
    const problems = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((d) => {
      const { line } = d.start === undefined ? { line: -1 } : source.getLineAndCharacterOfPosition(d.start);
      return `line ${line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    expect(problems).toEqual([]);
  });
});
