import { debuglog } from 'node:util';

const debug = debuglog('sess:http');

/**
 * Status texts of the statuses sess answers with: written out rather than
 * taken from node:http, which Workers without the newest compatibility date lack.
 */
const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** A response every adapter can send for an error that ended a request. */
export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  /** Plain text that never carries internal detail. */
  body: string;
}

/** A sess error, recognised by shape: a bundler may hold more than one copy of core. */
export function isSessionError(err: unknown): err is Error & { code: string; status: number } {
  return (
    err instanceof Error &&
    err.message.startsWith('[sess]') &&
    typeof (err as { code?: unknown }).code === 'string' &&
    typeof (err as { status?: unknown }).status === 'number'
  );
}

/** The HTTP status for an error: a sess error's own, a framework error's `status`/`statusCode` when 4xx/5xx, else 500. */
export function statusOf(err: unknown): number {
  const candidate = (err as { status?: unknown; statusCode?: unknown } | null)?.status ?? (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof candidate === 'number' && Number.isInteger(candidate) && candidate >= 400 && candidate <= 599 ? candidate : 500;
}

/**
 * The one error-to-response mapping of every adapter: the status from the
 * error; a body that says what the client may know. Below 500 a sess error's
 * message is shown (it names what the client did: a missing CSRF token, a
 * session ended elsewhere); from 500 on only the status text, because the
 * message of a store failure can name a folder, a table or a driver. The full
 * error goes to the debug log (`NODE_DEBUG=sess:http`) and stays on `cause`.
 *
 * @example
 * const { status, headers, body } = errorResponse(err);
 * res.writeHead(status, headers).end(body);
 */
export function errorResponse(err: unknown): ErrorResponse {
  const status = statusOf(err);
  const body = status < 500 && isSessionError(err) ? err.message : (STATUS_TEXT[status] ?? (status < 500 ? 'Error' : 'Server Error'));
  debug('answering %d for: %s', status, err instanceof Error ? (err.stack ?? err.message) : String(err));
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, body };
}
