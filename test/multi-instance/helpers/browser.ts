/**
 * A browser for the demo's HTML pages: HttpClient (a cookie jar, no automatic
 * redirects) plus readers for what the demo's templates print
 * (apps/demo-kit/src/views.js): `data-testid="visits"`, `data-testid="user"`,
 * `data-testid="flash-<kind>"`, the `_token` field of every form.
 */
import { HttpClient } from '@sess/test-utils';

export interface Page {
  status: number;
  html: string;
  location: string | null;
}

const unescape = (s: string) =>
  s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&#x27;/g, "'").replace(/&amp;/g, '&');

export const read = {
  visits: (html: string) => {
    const m = /data-testid="visits">(\d+)</.exec(html);
    return m ? Number(m[1]) : undefined;
  },
  user: (html: string) => {
    const m = /data-testid="user">([^<]*)</.exec(html);
    return m ? unescape(m[1]!) : undefined;
  },
  flash: (html: string, kind: 'success' | 'notice' | 'error') => {
    const m = new RegExp(`data-testid="flash-${kind}">([^<]*)<`).exec(html);
    return m ? unescape(m[1]!) : undefined;
  },
  token: (html: string) => {
    const m = /name="_token" value="([^"]+)"/.exec(html);
    return m ? unescape(m[1]!) : undefined;
  },
  sessionRows: (html: string) => (/<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1]?.match(/<tr/g) ?? []).length,
};

export class Browser {
  /** Requests sent by all browsers (through the proxy or to one instance). */
  static sent = 0;
  /** Answers that never came (connection refused or reset). */
  static broken: string[] = [];
  readonly client: HttpClient;

  /** `baseUrl`: where relative paths go (the proxy); a full URL targets one instance. */
  constructor(baseUrl: string) {
    this.client = new HttpClient(baseUrl);
  }

  async get(path: string): Promise<Page> {
    Browser.sent++;
    const r = await this.client.get(path).catch((err: Error) => {
      Browser.broken.push(`GET ${path}: ${err.message}`);
      throw err;
    });
    return { status: r.status, html: await r.text(), location: r.headers.get('location') };
  }

  async post(path: string, form: Record<string, string>): Promise<Page> {
    Browser.sent++;
    const r = await this.client.post(path, { form }).catch((err: Error) => {
      Browser.broken.push(`POST ${path}: ${err.message}`);
      throw err;
    });
    return { status: r.status, html: await r.text(), location: r.headers.get('location') };
  }

  /** GETs `formPage`, then POSTs `action` with that page's CSRF token. */
  async submit(formPage: string, action: string, form: Record<string, string> = {}): Promise<Page> {
    const page = await this.get(formPage);
    const token = read.token(page.html);
    if (!token) throw new Error(`no _token on ${formPage} (status ${page.status})`);
    return this.post(action, { ...form, _token: token });
  }

  /** A second browser holding this one's cookie now (a stolen or kept cookie). */
  copy(): Browser {
    const twin = new Browser(this.client.baseUrl);
    for (const [k, v] of this.client.cookies) twin.client.cookies.set(k, v);
    return twin;
  }
}
