import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Fence languages that are typechecked. */
export const CHECKED_LANGUAGES = new Set(['ts', 'typescript', 'tsx']);

/** Folders never searched for READMEs. */
const SKIP = new Set(['node_modules', '.git', 'dist', '.next', '.turbo', '.snippets', 'test-results', '.sess-data', '.packs', 'coverage']);

export interface Snippet {
  /** README path from the repository root, with forward slashes. */
  readme: string;
  /** 1-based position among the README's checked blocks: `packages/core/README.md#2`. */
  id: string;
  /** README line of the opening fence (1-based). */
  line: number;
  language: 'ts' | 'tsx';
  code: string;
  /** Declarations the block assumes, from `<!-- check-with: … -->` comments just above it. */
  prelude: string;
  /** Why the block is not checked, from `<!-- not-checked: … -->`. */
  notChecked?: string;
}

/** Every README.md of the repository (root, packages/*, apps/*, test/*, bench, …), sorted. */
export function findReadmes(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!SKIP.has(entry.name)) walk(join(dir, entry.name));
      } else if (entry.name === 'README.md') {
        found.push(relative(root, join(dir, entry.name)).split('\\').join('/'));
      }
    }
  };
  walk(root);
  return found.sort((a, b) => (a === 'README.md' ? -1 : b === 'README.md' ? 1 : a.localeCompare(b)));
}

const DIRECTIVE = /^\s*<!--\s*(not-checked|check-with)\s*:(.*?)-->\s*$/;

/**
 * The ```ts, ```typescript and ```tsx blocks of one README, with the
 * directives written on the lines just above each (blank lines between are
 * allowed). Indented fences (inside list items) are supported: the fence's
 * indentation is removed from the block's lines.
 */
export function extractSnippets(readme: string, text: string): Snippet[] {
  const lines = text.split(/\r?\n/);
  const snippets: Snippet[] = [];
  let index = 0;
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)/.exec(lines[i]!);
    if (!open) continue;
    const [, indent = '', fence = '```', lang = ''] = open;
    let end = i + 1;
    while (end < lines.length && !(lines[end]!.trimStart().startsWith(fence) && lines[end]!.trim().replace(/[`~]/g, '') === '')) end++;
    const body = lines.slice(i + 1, end).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()));
    const language = lang.toLowerCase();
    if (CHECKED_LANGUAGES.has(language)) {
      index += 1;
      const prelude: string[] = [];
      let notChecked: string | undefined;
      for (let j = i - 1; j >= 0; j--) {
        const line = lines[j]!;
        if (line.trim() === '') continue;
        const directive = DIRECTIVE.exec(line);
        if (!directive) break;
        if (directive[1] === 'not-checked') notChecked = directive[2]!.trim();
        else prelude.unshift(directive[2]!.trim());
      }
      snippets.push({
        readme,
        id: `${readme}#${index}`,
        line: i + 1,
        language: language === 'tsx' ? 'tsx' : 'ts',
        code: body.join('\n'),
        prelude: prelude.join(' '),
        notChecked,
      });
    }
    i = end; // the closing fence
  }
  return snippets;
}

/** All checked blocks of all READMEs under `root`. */
export function collectSnippets(root: string): Snippet[] {
  return findReadmes(root).flatMap((readme) => extractSnippets(readme, readFileSync(join(root, readme), 'utf8')));
}
