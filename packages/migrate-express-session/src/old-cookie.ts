import { type KeyObject, createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import { readCookieValues } from '@sess/core';

/** The longest express-session id looked at (uid-safe makes 32 characters; custom `genid`s vary). */
const MAX_ID_LENGTH = 256;
/** Printable ASCII without space, quote, comma, semicolon or backslash: what a cookie-borne id can be. */
const ID = /^[!#-+\--:<-[\]-~]+$/;

/** An express-session secret as an HMAC key, built once. */
export function oldKey(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret, 'utf8'));
}

/**
 * Verifies one `connect.sid` value as express-session wrote it: `s:<id>.<sig>`
 * after URL-decoding, `<sig>` the HMAC-SHA256 of `<id>` in standard base64
 * without padding (cookie-signature). Every secret is tried, each compared in
 * constant time. Returns the id, or undefined for anything unsigned or
 * malformed. Never throws.
 */
export function verifyOldCookie(raw: string, keys: readonly KeyObject[]): string | undefined {
  let value = raw;
  if (value.includes('%')) {
    try {
      value = decodeURIComponent(value);
    } catch {
      return undefined;
    }
  }
  if (!value.startsWith('s:')) return undefined;
  const signed = value.slice(2);
  const dot = signed.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const id = signed.slice(0, dot);
  if (id.length > MAX_ID_LENGTH || !ID.test(id)) return undefined;
  const given = Buffer.from(signed.slice(dot + 1), 'utf8');
  let found = false;
  for (const key of keys) {
    const expected = Buffer.from(createHmac('sha256', key).update(id).digest('base64').replace(/=+$/, ''), 'utf8');
    // Why timingSafeEqual: an early-exit compare would tell, through response
    // times, how many leading characters of a forged signature are right.
    if (expected.length === given.length && timingSafeEqual(expected, given)) found = true;
  }
  return found ? id : undefined;
}

/** The ids of every validly signed `name` cookie in a `Cookie` header, in header order. */
export function oldIdsIn(header: string | undefined, name: string, keys: readonly KeyObject[]): { present: boolean; ids: string[] } {
  const values = readCookieValues(header, name);
  const ids: string[] = [];
  for (const value of values) {
    const id = verifyOldCookie(value, keys);
    if (id !== undefined && !ids.includes(id)) ids.push(id);
  }
  return { present: values.length > 0, ids };
}

/**
 * The `Cookie` header without the cookies called one of `drop`, with `first`
 * (a `name=value` pair) in front when given. Undefined when nothing is left.
 */
export function rewriteCookieHeader(header: string | undefined, drop: readonly string[], first?: string): string | undefined {
  const kept: string[] = first === undefined ? [] : [first];
  for (const part of (header ?? '').split(';')) {
    const pair = part.trim();
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = (eq === -1 ? pair : pair.slice(0, eq)).trim();
    if (drop.includes(name)) continue;
    kept.push(pair);
  }
  return kept.length === 0 ? undefined : kept.join('; ');
}

/** Attributes of the old cookie, needed to expire it (a browser matches name, path and domain). */
export interface OldCookieOptions {
  /** @default 'connect.sid' */
  name?: string;
  /** @default '/' */
  path?: string;
  /** The `domain` the old app set, if any. */
  domain?: string;
  /** Mark the expiring cookie Secure (needed for a `__Secure-` or `__Host-` name). @default false */
  secure?: boolean;
}

const UNSAFE = /[;\x00-\x1f\x7f]/;

/** The `Set-Cookie` value that makes the browser drop the old cookie. */
export function expireOldCookie(options: Required<Pick<OldCookieOptions, 'name' | 'path'>> & OldCookieOptions): string {
  for (const value of [options.name, options.path, options.domain]) {
    if (value !== undefined && UNSAFE.test(value)) throw new TypeError('[sess] the old cookie name, path and domain may not contain ";" or control characters.');
  }
  let header = `${options.name}=; Path=${options.path}; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0`;
  if (options.domain) header += `; Domain=${options.domain}`;
  if (options.secure) header += '; Secure';
  return `${header}; HttpOnly`;
}
