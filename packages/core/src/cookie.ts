import { ConfigError } from './errors.js';

export interface CookieOptions {
  /**
   * Cookie name. A `__Host-` name requires `secure`, `path: '/'` and no `domain`.
   * @default 'sess'
   */
  name?: string;
  /** @default '/' */
  path?: string;
  /** @default undefined (host-only cookie) */
  domain?: string;
  /**
   * Send only over HTTPS.
   * @default true, unless `NODE_ENV` is `development`
   */
  secure?: boolean;
  /** @default true */
  httpOnly?: boolean;
  /** @default 'lax' */
  sameSite?: 'lax' | 'strict' | 'none' | false;
  /** CHIPS: a cookie partitioned by top-level site. Requires `secure`. @default false */
  partitioned?: boolean;
  /**
   * Lifetime of the cookie in seconds. Unset, the cookie lives until the browser
   * closes; the server enforces the session's timeouts either way.
   * @default undefined
   */
  maxAge?: number;
}

/** The attributes of the session cookie, as structured values (for frameworks with a cookie API). */
export interface CookieAttributes {
  path: string;
  domain?: string;
  httpOnly: boolean;
  secure: boolean;
  sameSite?: 'lax' | 'strict' | 'none';
  partitioned?: boolean;
  /** Seconds; 0 expires the cookie. Absent: a browser-session cookie. */
  maxAge?: number;
  /** Set with `maxAge: 0`, for old clients. */
  expires?: Date;
}

/**
 * The cookie a commit sends, structured (`name`, `value`, `options`) and as
 * `Set-Cookie` header text, so no adapter parses a header back.
 */
export interface SessionCookie {
  name: string;
  /** `<id>.<signature>`, or '' when the cookie is expired. */
  value: string;
  options: CookieAttributes;
  /** The same cookie as `Set-Cookie` header text. */
  header: string;
}

export interface ResolvedCookieOptions {
  name: string;
  /** The attributes as values. */
  attrs: CookieAttributes;
  /** Everything after `name=value`, computed once. */
  attributes: string;
  maxAge: number | undefined;
}

// RFC 6265 token characters for a name; anything else breaks the header.
const NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Attribute values may not contain ';' or control characters (header injection).
const UNSAFE_VALUE = /[;\x00-\x1f\x7f]/;

export function resolveCookieOptions(options: CookieOptions = {}): ResolvedCookieOptions {
  const name = options.name ?? 'sess';
  const path = options.path ?? '/';
  const secure = options.secure ?? process.env.NODE_ENV !== 'development';
  const httpOnly = options.httpOnly ?? true;
  const sameSite = options.sameSite ?? 'lax';
  const { domain, partitioned = false, maxAge } = options;

  if (!NAME.test(name)) throw new ConfigError(`[sess] cookie name "${name}" is not a valid cookie name: use letters, digits and !#$%&'*+-.^_\`|~ only.`);
  for (const [label, value] of [['path', path], ['domain', domain]] as const) {
    if (value !== undefined && (typeof value !== 'string' || UNSAFE_VALUE.test(value) || value === '')) {
      throw new ConfigError(`[sess] cookie ${label} "${String(value)}" contains ";" or a control character, or is empty: pass a plain ${label}.`);
    }
  }
  if (!path.startsWith('/')) throw new ConfigError(`[sess] cookie path "${path}" must start with "/".`);
  if (name.startsWith('__Host-')) {
    if (domain !== undefined) throw new ConfigError('[sess] a "__Host-" cookie cannot have a domain: remove cookie.domain or rename the cookie.');
    if (path !== '/') throw new ConfigError('[sess] a "__Host-" cookie must have path "/": remove cookie.path or rename the cookie.');
    if (!secure) throw new ConfigError('[sess] a "__Host-" cookie must be secure: set cookie.secure to true or rename the cookie.');
  }
  if (name.startsWith('__Secure-') && !secure) throw new ConfigError('[sess] a "__Secure-" cookie must be secure: set cookie.secure to true or rename the cookie.');
  if (sameSite === 'none' && !secure) throw new ConfigError('[sess] cookie.sameSite "none" requires cookie.secure: browsers drop such cookies.');
  if (partitioned && !secure) throw new ConfigError('[sess] a partitioned cookie must be secure: set cookie.secure to true.');
  if (sameSite !== false && !['lax', 'strict', 'none'].includes(sameSite)) throw new ConfigError(`[sess] cookie.sameSite must be "lax", "strict", "none" or false, not "${String(sameSite)}".`);
  if (maxAge !== undefined && !(Number.isFinite(maxAge) && maxAge > 0)) throw new ConfigError('[sess] cookie.maxAge must be a positive number of seconds.');

  let attributes = `; Path=${path}`;
  if (domain) attributes += `; Domain=${domain}`;
  if (httpOnly) attributes += '; HttpOnly';
  if (secure) attributes += '; Secure';
  if (sameSite) attributes += `; SameSite=${sameSite[0]!.toUpperCase()}${sameSite.slice(1)}`;
  if (partitioned) attributes += '; Partitioned';
  const attrs: CookieAttributes = { path, httpOnly, secure };
  if (domain) attrs.domain = domain;
  if (sameSite) attrs.sameSite = sameSite;
  if (partitioned) attrs.partitioned = true;
  return { name, attrs, attributes, maxAge: maxAge === undefined ? undefined : Math.floor(maxAge) };
}

/** The session cookie carrying `value`, structured and as header text. */
export function sessionCookie(options: ResolvedCookieOptions, value: string): SessionCookie {
  const attrs = options.maxAge === undefined ? { ...options.attrs } : { ...options.attrs, maxAge: options.maxAge };
  return { name: options.name, value, options: attrs, header: serializeCookie(options, value) };
}

/** The cookie that makes the browser drop the session cookie. */
export function expiredCookie(options: ResolvedCookieOptions): SessionCookie {
  return { name: options.name, value: '', options: { ...options.attrs, maxAge: 0, expires: new Date(0) }, header: expireCookie(options) };
}

/** `Set-Cookie` value that carries the signed id. */
export function serializeCookie(options: ResolvedCookieOptions, value: string): string {
  return options.maxAge === undefined
    ? `${options.name}=${value}${options.attributes}`
    : `${options.name}=${value}; Max-Age=${options.maxAge}${options.attributes}`;
}

/** `Set-Cookie` value that removes the cookie. */
export function expireCookie(options: ResolvedCookieOptions): string {
  return `${options.name}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT${options.attributes}`;
}

/** Never look at more than this many same-named cookies: each costs an HMAC. */
const MAX_CANDIDATES = 8;

/**
 * The values of every cookie called `name` in a `Cookie` header, in header order
 * (browsers send the most specific path first). No decoding: a valid session
 * cookie is plain base64url, and anything else fails verification anyway.
 */
export function readCookieValues(header: string | null | undefined, name: string): string[] {
  if (!header || typeof header !== 'string') return [];
  const found: string[] = [];
  let from = 0;
  while (found.length < MAX_CANDIDATES) {
    const at = header.indexOf(name, from);
    if (at === -1) break;
    from = at + name.length;
    // The match must be a whole cookie name: preceded by start, ';' or space, followed by '='.
    let before = at - 1;
    while (before >= 0 && (header[before] === ' ' || header[before] === '\t')) before--;
    if (before >= 0 && header[before] !== ';') continue;
    let eq = from;
    while (header[eq] === ' ') eq++;
    if (header[eq] !== '=') continue;
    let end = header.indexOf(';', eq + 1);
    if (end === -1) end = header.length;
    let value = header.slice(eq + 1, end).trim();
    if (value.length > 1 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    found.push(value);
    from = end;
  }
  return found;
}
