import ts from 'typescript';
import type { Snippet } from './snippets.js';

/**
 * What a snippet is checked as: an ES module of a strict TypeScript app
 * (bundler resolution, so `@sess/*` resolve through their `exports` to the
 * built `dist/*.d.ts`), with Node's and the DOM's globals, JSX for React.
 */
export const COMPILER_OPTIONS: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  moduleDetection: ts.ModuleDetectionKind.Force,
  lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
  types: ['node'],
  jsx: ts.JsxEmit.ReactJSX,
  esModuleInterop: true,
  skipLibCheck: true,
  resolveJsonModule: true,
};

/** The file a snippet becomes: its `check-with` prelude on line 1, the block from line 2. */
export function snippetSource(snippet: Snippet): string {
  return `${snippet.prelude}\n${snippet.code}\n`;
}

export interface Problem {
  /** README line the problem is on (the fence line for problems in the prelude). */
  line: number;
  message: string;
}

/**
 * Typechecks snippet files, one program each (augmentations such as
 * `declare module '@sess/core' { interface SessionData … }` stay in their
 * snippet). Declaration files are parsed once and shared between programs.
 */
export class SnippetChecker {
  readonly #host: ts.CompilerHost;
  readonly #cache = new Map<string, ts.SourceFile | undefined>();
  #previous: ts.Program | undefined;

  constructor(readonly options: ts.CompilerOptions = COMPILER_OPTIONS) {
    const host = ts.createCompilerHost(options, true);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
      if (!fileName.endsWith('.d.ts')) return getSourceFile(fileName, languageVersion, onError, shouldCreate);
      if (!this.#cache.has(fileName)) this.#cache.set(fileName, getSourceFile(fileName, languageVersion, onError, shouldCreate));
      return this.#cache.get(fileName);
    };
    this.#host = host;
  }

  /** Problems in `file` (a snippet written to disk), as README lines and messages. */
  check(file: string, snippet: Snippet): Problem[] {
    const program = ts.createProgram({ rootNames: [file], options: this.options, host: this.#host, oldProgram: this.#previous });
    this.#previous = program;
    const source = program.getSourceFile(file);
    if (!source) return [{ line: snippet.line, message: `TypeScript did not read ${file}` }];
    const diagnostics = [...program.getOptionsDiagnostics(), ...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
    return diagnostics.map((d) => {
      const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      if (d.file === undefined || d.start === undefined) return { line: snippet.line, message };
      const { line } = d.file.getLineAndCharacterOfPosition(d.start);
      // Line 0 is the prelude; line n (n ≥ 1) is the block's line n, i.e. README line fence + n.
      return { line: snippet.line + line, message: line === 0 ? `(in check-with) ${message}` : message };
    });
  }
}
