/** Options of Next's `cookies().set(name, value, options)`, as far as sess uses them. */
export interface CookieSetOptions {
  path?: string;
  domain?: string;
  maxAge?: number;
  expires?: Date;
  httpOnly?: boolean;
  secure?: boolean;
  sameSite?: 'lax' | 'strict' | 'none';
  partitioned?: boolean;
}

export interface ParsedSetCookie {
  name: string;
  value: string;
  options: CookieSetOptions;
}

/**
 * Reads a `Set-Cookie` value produced by `manager.commit` back into name, value
 * and options, so it can go through Next's `cookies().set()` (the only way to set
 * a cookie from a server action). Only the attributes core writes are understood.
 */
export function parseSetCookie(header: string): ParsedSetCookie {
  const [pair = '', ...attributes] = header.split(';');
  const eq = pair.indexOf('=');
  const options: CookieSetOptions = {};
  for (const attribute of attributes) {
    const at = attribute.indexOf('=');
    const key = (at === -1 ? attribute : attribute.slice(0, at)).trim().toLowerCase();
    const value = at === -1 ? '' : attribute.slice(at + 1).trim();
    if (key === 'path') options.path = value;
    else if (key === 'domain') options.domain = value;
    else if (key === 'max-age') options.maxAge = Number(value);
    else if (key === 'expires') options.expires = new Date(value);
    else if (key === 'httponly') options.httpOnly = true;
    else if (key === 'secure') options.secure = true;
    else if (key === 'samesite') options.sameSite = value.toLowerCase() as CookieSetOptions['sameSite'];
    else if (key === 'partitioned') options.partitioned = true;
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), options };
}
