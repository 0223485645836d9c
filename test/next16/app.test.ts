// packages/next's App Router, Pages Router and middleware tests, unchanged, against
// this project's fixture (Next 16; its proxy.ts does what middleware.ts does there).
import '../../packages/next/test/app.test.ts';
