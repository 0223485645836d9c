import { MemoryStore, SessionManager } from '@sess/core';
import { describe, expect, it } from 'vitest';
import { parseSetCookie } from '../src/set-cookie.js';

const secret = 'a-test-secret-that-is-long-enough-0123456789';

describe('parseSetCookie', () => {
  it('reads every attribute core writes into cookies().set() options', () => {
    const manager = new SessionManager({
      secret,
      store: new MemoryStore(),
      cookie: { name: '__Host-sid', secure: true, sameSite: 'strict', partitioned: true, maxAge: 600 },
    });
    const header = manager.serializeCookie('abc');
    const parsed = parseSetCookie(header);
    expect(parsed.name).toBe('__Host-sid');
    expect(parsed.value).toMatch(/^abc\.[\w-]+$/);
    expect(parsed.options).toEqual({ maxAge: 600, path: '/', httpOnly: true, secure: true, sameSite: 'strict', partitioned: true });
  });

  it('reads an expiring cookie as max-age 0 with an epoch expiry', () => {
    const parsed = parseSetCookie('sess=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/app; Domain=example.com; SameSite=Lax');
    expect(parsed).toEqual({
      name: 'sess',
      value: '',
      options: { maxAge: 0, expires: new Date(0), path: '/app', domain: 'example.com', sameSite: 'lax' },
    });
  });
});
