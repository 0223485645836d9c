import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', testing: 'src/testing.ts', store: 'src/store-kit.ts', http: 'src/http/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  // One copy of each module in both formats: an error class must be the same class from every entry point.
  splitting: true,
  // Keep `node:` specifiers: Deno, Bun and Workers' nodejs_compat resolve them; a bare `crypto` is a guess.
  removeNodeProtocol: false,
  sourcemap: true,
  target: 'node20',
  external: ['vitest'],
});
