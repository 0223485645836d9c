import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { MemoryStore, SessionError } from '@sess/core';
import { describe, expect, it } from 'vitest';

const secret = 'a-test-secret-that-is-long-enough-0123456789';

describe('the built package outside a Next request', () => {
  it('loads as ESM and as CommonJS without touching next/headers', async () => {
    const esm = await import('@sess/next');
    const cjs = createRequire(import.meta.url)('@sess/next') as typeof esm;
    for (const entry of [esm, cjs]) {
      const sessions = entry.createNextSessions({ secret, store: new MemoryStore() });
      expect(Object.keys(sessions).sort()).toEqual(['getPagesSession', 'getSession', 'manager', 'withSession', 'withSessionRoute', 'withSessionSsr']);
    }
  });

  it('getSession() outside a request is an E_UNSUPPORTED SessionError that points to the Pages Router helpers', async () => {
    const { createNextSessions } = await import('@sess/next');
    const { getSession } = createNextSessions({ secret, store: new MemoryStore() });
    const error = await getSession().catch((err: unknown) => err);
    expect(error).toBeInstanceOf(SessionError);
    expect(error).toMatchObject({ code: 'E_UNSUPPORTED' });
    expect((error as Error).message).toMatch(/^\[sess\] getSession\(\) works only inside a Next\.js App Router request.*getPagesSession\(req, res\)/);
  });

  it('getSession() works unbundled, under Node ESM loader (serverExternalPackages): next/headers resolves', () => {
    // Not through vitest's resolver: a plain `node` process, as Next runs an external package.
    const script = `
      import { createNextSessions } from '@sess/next';
      import { MemoryStore } from '@sess/core';
      const { getSession } = createNextSessions({ secret: '${secret}', store: new MemoryStore() });
      const error = await getSession().catch((err) => err);
      console.log(JSON.stringify({ code: error.code ?? error.message }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../', import.meta.url)), encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({ code: 'E_UNSUPPORTED' });
  });
});
