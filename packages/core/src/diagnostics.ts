/**
 * sess publishes what it does on `node:diagnostics_channel`, so tracing and
 * metrics need no monkey-patching. Payloads are stable and documented (README,
 * "Diagnostics"); they never carry session data, and ids only as an 8-character
 * prefix. When nobody subscribes, a publication costs one `hasSubscribers`
 * check: no payload is built and no clock is read.
 *
 * @example
 * import { subscribe } from 'node:diagnostics_channel';
 * subscribe('sess:store', (event) => console.log(event)); // { method: 'update', outcome: 'ok', durationMs: 0.4, idPrefix: 'q9Xz…' }
 */
import { channel } from 'node:diagnostics_channel';

/** `sess:load`: a session was loaded. */
export interface LoadEvent {
  /** `new`: no valid cookie; `unknown`: a signed id the store does not know; `expired`: timed out; `invalid`: a record of the wrong shape. */
  outcome: 'loaded' | 'new' | 'unknown' | 'expired' | 'invalid';
  idPrefix?: string;
  /** Flash values taken out of the store at load. */
  flashTaken: number;
  /** A CSRF token given to `load` was used. */
  tokenUsed: boolean;
  durationMs: number;
}

/** `sess:commit`: a request's session was committed (or rolled back). */
export interface CommitEvent {
  outcome: 'unchanged' | 'written' | 'created' | 'rotated' | 'destroyed' | 'gone' | 'rolled-back' | 'failed';
  idPrefix: string;
  durationMs: number;
  /** The error code when `failed`. */
  code?: string;
}

/** `sess:regenerate`: `regenerateId()` was committed. */
export interface RegenerateEvent {
  fromPrefix: string;
  toPrefix: string;
  /** `revoked`: the old record was gone (nothing written); `moved`: another request regenerated it first. */
  outcome: 'rotated' | 'revoked' | 'moved';
}

/** `sess:destroy`: a session record was deleted (`destroy()`, a timeout, a regenerate of a new session). */
export interface DestroyEvent {
  idPrefix: string;
  reason: 'destroy' | 'timeout';
}

/** `sess:store`: one store call. */
export interface StoreEvent {
  method: 'get' | 'set' | 'update' | 'rotate' | 'destroy' | 'listByUser' | 'destroyByUser';
  idPrefix?: string;
  outcome: 'ok' | 'error' | 'timeout';
  durationMs: number;
  /** The `StoreError` code when the call failed. */
  code?: string;
}

/** `sess:store:conflict`: a compare-and-set write lost a race and is retried (store kit). */
export interface ConflictEvent {
  method: 'update' | 'rotate';
  idPrefix: string;
  /** 1 for the first retry. */
  attempt: number;
}

/** `sess:csrf`: a CSRF check refused a request. */
export interface CsrfEvent {
  reason: 'missing-token' | 'invalid-token' | 'cross-site' | 'origin-mismatch';
  method: string;
}

/** `sess:timeout`: a loaded session had timed out and was ended. */
export interface TimeoutEvent {
  idPrefix: string;
  kind: 'idle' | 'absolute';
}

/** The channels, by name. Subscribe with `diagnostics_channel.subscribe(name, fn)`. */
export const CHANNELS = {
  load: 'sess:load',
  commit: 'sess:commit',
  regenerate: 'sess:regenerate',
  destroy: 'sess:destroy',
  store: 'sess:store',
  conflict: 'sess:store:conflict',
  csrf: 'sess:csrf',
  timeout: 'sess:timeout',
} as const;

/** @internal */
export const diagnostics = {
  load: channel(CHANNELS.load),
  commit: channel(CHANNELS.commit),
  regenerate: channel(CHANNELS.regenerate),
  destroy: channel(CHANNELS.destroy),
  store: channel(CHANNELS.store),
  conflict: channel(CHANNELS.conflict),
  csrf: channel(CHANNELS.csrf),
  timeout: channel(CHANNELS.timeout),
};

/** The short prefix of an id that events carry: enough to tell sessions apart, useless to an attacker. */
export const idPrefix = (id: string): string => id.slice(0, 8);
