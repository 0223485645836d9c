import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'fastify-demo-startup-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Starts the demo with `env` and returns how it ended: these settings never reach listen(). */
function start(env: Record<string, string>) {
  const { NODE_ENV, npm_lifecycle_event, ...inherited } = process.env;
  const result = spawnSync(process.execPath, ['src/server.js'], {
    cwd: appDir,
    env: { ...inherited, PORT: '0', SESS_DATA_DIR: dataDir, SESSION_SECRET: '', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: result.status, stderr: result.stderr.trim() };
}

describe('fastify-demo start-up problems are one line and exit code 1', () => {
  it('names a PostgreSQL server that is not running and how to start it', () => {
    const { code, stderr } = start({ SESS_STORE: 'postgres', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test' });
    expect(code).toBe(1);
    expect(stderr).toBe(
      'error: PostgreSQL is not reachable at 127.0.0.1:1: start it with `sudo pg_ctlcluster <version> main start` (or `sudo service postgresql start`), or set DATABASE_URL.',
    );
  });

  it('names a Redis server that is not running', () => {
    const { code, stderr } = start({ SESS_STORE: 'redis', REDIS_URL: 'redis://127.0.0.1:1' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^error: Redis is not reachable at 127\.0\.0\.1:1: start it with `redis-server --daemonize yes`.*or set REDIS_URL\.$/);
  });

  it('refuses an unknown SESS_STORE', () => {
    const { code, stderr } = start({ SESS_STORE: 'mongo' });
    expect(code).toBe(1);
    expect(stderr).toBe('error: SESS_STORE=mongo is not a store this demo knows: use one of file, sqlite, postgres, mysql, redis, redis-cluster.');
  });

  it('names SESSION_SECRET and how to generate one when it is too short', () => {
    const { code, stderr } = start({ SESSION_SECRET: 'too-short' });
    expect(code).toBe(1);
    expect(stderr).toBe(
      'error: SESSION_SECRET is too short (9 bytes; it needs 32 or more): generate one with `SESSION_SECRET=$(node -e "console.log(require(\'crypto\').randomBytes(32).toString(\'base64url\'))")`, or unset it for a development secret.',
    );
  });

  it('started by its package script, ends on its one line: status 0, so pnpm adds no lines of its own', () => {
    const { code, stderr } = start({ SESS_STORE: 'mongo', npm_lifecycle_event: 'start' });
    expect(code).toBe(0);
    expect(stderr.split('\n')).toEqual(['error: SESS_STORE=mongo is not a store this demo knows: use one of file, sqlite, postgres, mysql, redis, redis-cluster.']);
  });

  it('requires SESSION_SECRET in production, saying how to generate one', () => {
    const { code, stderr } = start({ NODE_ENV: 'production' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^error: SESSION_SECRET is not set: in production set it .*randomBytes\(32\)/);
    expect(stderr.split('\n')).toHaveLength(1);
  });
});
