/**
 * Store calls per request on FileStore (the core README's table), through a
 * SessionManager and the request lifecycle over real HTTP. (File system calls
 * are not counted: a lock, a read, an atomic temp-file write and a rename per
 * write are the store's own business, tested in atomic.test.ts and locks.test.ts.)
 */
import { startLifecycleEconomyApp, testStoreEconomy } from '@sess/test-utils';
import { FileStore } from '@sess/store-file';
import { removeTempDirs, tempDir } from './helpers.js';

testStoreEconomy({
  name: 'FileStore',
  store: async () => new FileStore({ dir: await tempDir(), sweepInterval: 0 }),
  start: startLifecycleEconomyApp,
  cleanup: removeTempDirs,
});
