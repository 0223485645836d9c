import { writeFile } from 'node:fs/promises';
import { afterAll } from 'vitest';
import { testStore } from '@sess/core/testing';
import { FileStore } from '@sess/store-file';
import { removeTempDirs, sessionPath, tempDir } from './helpers.js';

afterAll(removeTempDirs);

testStore({
  name: 'FileStore',
  create: async () => new FileStore({ dir: await tempDir(), sweepInterval: 0 }),
  cleanup: (store) => store.close(),
  corrupt: (store, id) => writeFile(sessionPath(store.dir, id), '{"v":1,"id":"garbage'),
});
