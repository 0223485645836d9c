/**
 * A browser-like HTTP client for tests: keeps cookies between requests (one
 * jar per client, so two clients are two browsers) and never follows redirects
 * by itself, so a test can send the next request the instant a redirect arrives.
 */
export class HttpClient {
  readonly cookies = new Map<string, string>();

  /** `headers`: sent with every request (unless the request sets them). */
  constructor(
    readonly baseUrl: string,
    readonly headers: Record<string, string> = {},
  ) {}

  async request(path: string, init: RequestInit & { form?: Record<string, string>; json?: unknown } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(this.headers)) if (!headers.has(name)) headers.set(name, value);
    const jar = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (jar && !headers.has('cookie')) headers.set('cookie', jar);
    let body = init.body;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers.set('content-type', 'application/x-www-form-urlencoded');
    } else if (init.json !== undefined) {
      body = JSON.stringify(init.json);
      headers.set('content-type', 'application/json');
    }
    const response = await fetch(new URL(path, this.baseUrl), { ...init, headers, body, redirect: 'manual' });
    this.receive(response.headers.getSetCookie());
    return response;
  }

  get(path: string, init: RequestInit = {}) {
    return this.request(path, { ...init, method: 'GET' });
  }

  post(path: string, init: RequestInit & { form?: Record<string, string>; json?: unknown } = {}) {
    return this.request(path, { ...init, method: 'POST' });
  }

  /** Applies `Set-Cookie` headers as a browser would (Max-Age=0 deletes). */
  receive(setCookies: string[]): void {
    for (const header of setCookies) {
      const [pair] = header.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/;\s*max-age=0/i.test(header) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  /** Another browser that starts with this one's cookies (a copied cookie, a replay). */
  clone(): HttpClient {
    const twin = new HttpClient(this.baseUrl, this.headers);
    for (const [k, v] of this.cookies) twin.cookies.set(k, v);
    return twin;
  }
}
