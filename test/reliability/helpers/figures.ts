/**
 * Figures of the last run: each test file records what it measured under its own
 * name in `.results/<file>.json`; `scripts/report.mjs` turns them into
 * docs/reliability.md. One file per test file, so files never overwrite each other.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '.results');

export type Figure = Record<string, string | number | boolean | null>;

export class Figures {
  readonly #rows: Record<string, Figure> = {};
  constructor(readonly file: string, readonly title: string) {}

  /** Records (or replaces) the figures of one check. */
  record(check: string, figure: Figure): void {
    this.#rows[check] = figure;
    this.flush();
  }

  flush(): void {
    mkdirSync(RESULTS_DIR, { recursive: true });
    const doc = { title: this.title, file: this.file, at: new Date().toISOString(), checks: this.#rows };
    writeFileSync(join(RESULTS_DIR, `${this.file}.json`), JSON.stringify(doc, null, 2));
  }
}
