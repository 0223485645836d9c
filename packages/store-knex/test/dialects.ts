import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { requireService } from '@sess/test-utils';

/** One database to run the suite against, with how to connect to it. */
export interface DialectCase {
  name: string;
  /** Whether the backend is there (false: skipped loudly, or a failure in CI). */
  available: () => Promise<boolean>;
  /** A fresh knex instance on this backend. */
  connect: (overrides?: Partial<Knex.Config>) => Knex;
  /** Knex config pointing at a backend that is not there, for failure tests. */
  unreachable: () => Knex.Config;
  /** Removes files the case made. */
  dispose?: () => void;
}

let tempDir: string | undefined;
const sqliteFile = () => {
  tempDir ??= mkdtempSync(join(tmpdir(), 'sess-knex-'));
  return join(tempDir, 'sessions.db');
};

/** Knex logs failed connection attempts to the console; the failure tests expect them. */
export const quiet = { log: { warn() {}, error() {}, debug() {}, deprecate() {} } };

export const DIALECTS: DialectCase[] = [
  {
    name: 'sqlite file',
    available: async () => true,
    connect: (o = {}) => knexFactory({ client: 'better-sqlite3', connection: { filename: sqliteFile() }, useNullAsDefault: true, ...o }),
    unreachable: () => ({ client: 'better-sqlite3', connection: { filename: join(tmpdir(), `no-such-dir-${randomBytes(4).toString('hex')}`, 'x.db') }, useNullAsDefault: true, acquireConnectionTimeout: 500, ...quiet }),
    dispose: () => {
      if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    },
  },
  {
    name: 'sqlite :memory:',
    available: async () => true,
    connect: (o = {}) => knexFactory({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true, pool: { min: 1, max: 1 }, ...o }),
    unreachable: () => ({ client: 'better-sqlite3', connection: { filename: join(tmpdir(), `no-such-dir-${randomBytes(4).toString('hex')}`, 'x.db') }, useNullAsDefault: true, acquireConnectionTimeout: 500, ...quiet }),
  },
  {
    name: 'postgres',
    available: () => requireService('postgres'),
    connect: (o = {}) => knexFactory({ client: 'pg', connection: { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' }, pool: { min: 0, max: 10 }, ...o }),
    unreachable: () => ({ client: 'pg', connection: { host: '127.0.0.1', port: 1, user: 'postgres', database: 'test' }, acquireConnectionTimeout: 500, ...quiet }),
  },
  {
    name: 'mariadb',
    available: () => requireService('mysql'),
    connect: (o = {}) => knexFactory({ client: 'mysql2', connection: { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' }, pool: { min: 0, max: 10 }, ...o }),
    unreachable: () => ({ client: 'mysql2', connection: { host: '127.0.0.1', port: 1, user: 'root', database: 'test' }, acquireConnectionTimeout: 500, ...quiet }),
  },
];

/** A table name no other run uses. */
export const uniqueTable = () => `sess_test_${randomBytes(5).toString('hex')}`;
