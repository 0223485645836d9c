// The adapter conformance suite through the App Router and the Pages Router, as
// in packages/next, against this project's fixture (suites named "next 16 …").
import '../../packages/next/test/scenarios.test.ts';
