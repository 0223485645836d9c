import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import expressSession from 'express-session';
import sessionFileStore from 'session-file-store';
import { isSessionRecord, type SessionRecord } from '@sess/core';
import { FileStore } from '@sess/store-file';
import { sessionFileStoreSource } from '@sess/migrate-express-session';
import { describe } from 'vitest';
import { migrationScenarios } from './scenarios.js';

describe('session-file-store to FileStore', () => {
  const root = mkdtempSync(join(tmpdir(), 'sess-migrate-files-'));
  const oldDir = join(root, 'old');
  const newDir = join(root, 'new');
  const OldFileStore = sessionFileStore(expressSession);

  migrationScenarios('express-session + session-file-store, then sess + FileStore', async () => {
    const newStore = new FileStore({ dir: newDir });
    return {
      oldStore: new OldFileStore({ path: oldDir, reapInterval: -1, logFn: () => {} }),
      newStore,
      source: sessionFileStoreSource({ path: oldDir }),
      async oldExpiry(id) {
        try {
          const session = JSON.parse(readFileSync(join(oldDir, `${id}.json`), 'utf8'));
          return session.__lastAccess + session.cookie.originalMaxAge;
        } catch {
          return undefined;
        }
      },
      async newRecords() {
        const out: Array<{ id: string; record: SessionRecord }> = [];
        const walk = (dir: string) => {
          for (const entry of readdirSync(dir, { withFileTypes: true })) {
            const path = join(dir, entry.name);
            if (entry.isDirectory()) walk(path);
            else if (entry.name.endsWith('.json')) {
              // FileStore's document: { v, expires, id, record }.
              const doc = JSON.parse(readFileSync(path, 'utf8')) as { id?: string; record?: unknown };
              if (typeof doc.id === 'string' && isSessionRecord(doc.record)) out.push({ id: doc.id, record: doc.record });
            }
          }
        };
        walk(newDir);
        return out;
      },
      async close() {
        await newStore.close?.();
        rmSync(root, { recursive: true, force: true });
      },
    };
  });
});
