import { fileURLToPath } from 'node:url';
import { nextFixtureSetup } from '../../packages/next/test/global-setup.ts';

// packages/next's setup, pointed at this folder's fixture: `next` resolves from
// here, so the fixture is built and served by Next 16. `next build` uses
// Turbopack, Next 16's default; SESS_NEXT16_WEBPACK=1 builds with --webpack instead.
export default nextFixtureSetup({
  fixture: fileURLToPath(new URL('./fixture/', import.meta.url)),
  buildArgs: process.env.SESS_NEXT16_WEBPACK === '1' ? ['--webpack'] : [],
  label: 'next16',
});
