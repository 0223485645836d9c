import type { ChangeResult, JsonValue, RecordVersion, SessionChange, SessionRecord, UpdateResult } from './types.js';
import { setOwn } from './value.js';

/** How many CSRF tokens a session keeps: the newest 20, as in Mako. */
export const TOKEN_RING_SIZE = 20;

/**
 * What a store keeps under an id that `rotate` moved away: not a record (it
 * reads as absent), but it lets an overlapping `update` of the old id say
 * `moved: true`. Any JSON object with the own key `"sess:rotated"` is a mark
 * (a store may put a nonce or a time in the value).
 */
export const ROTATED_MARK: Readonly<{ 'sess:rotated': true }> = Object.freeze({ 'sess:rotated': true });

/** Seconds a rotated mark stays, at most: longer than any request that loaded the old id. */
export const ROTATED_MARK_TTL = 60;

/** Whether a stored value is a rotated mark. */
export function isRotatedMark(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.prototype.hasOwnProperty.call(value, 'sess:rotated');
}

/** A fresh record, as a new session starts. */
export function emptyRecord(now: number): SessionRecord {
  return { data: {}, flash: {}, tokens: [], createdAt: now, lastSeen: now };
}

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/**
 * The one definition of what a `SessionChange` means. Pure: `record` is not
 * mutated. JavaScript stores call it under their lock or transaction; the Redis
 * store's Lua script mirrors it and the conformance suite checks both agree.
 *
 * `record` undefined means no record is stored: with `ifExists` nothing is
 * written (result.record undefined), otherwise a new record is created.
 */
export function applyChange(record: SessionRecord | undefined | null, change: SessionChange): ChangeResult {
  const existed = record != null;
  const result: ChangeResult = { record: undefined, existed, consumedTokens: [], consumedFlash: {} };
  if (!existed && change.ifExists) return result;

  const base = record && !change.reset ? record : emptyRecord(change.lastSeen);
  // Spread copies own keys as data properties, so a stored "__proto__" key stays
  // a plain key; writes below go through setOwn for the same reason.
  const data: Record<string, JsonValue> = change.clear ? {} : { ...base.data };
  const flash: Record<string, JsonValue> = change.clear ? {} : { ...base.flash };

  for (const key of change.remove ?? []) {
    delete data[key];
    delete flash[key];
  }
  if (change.put) for (const key of Object.keys(change.put)) setOwn(data, key, change.put[key] as JsonValue);
  if (change.increment) {
    for (const key of Object.keys(change.increment)) {
      const current = hasOwn(data, key) ? data[key] : 0;
      const start = typeof current === 'number' && Number.isFinite(current) ? current : 0;
      // A change arrives as JSON from anywhere: a non-number adds 0, as the Redis script does.
      const raw: unknown = change.increment[key];
      const by = typeof raw === 'number' && Number.isFinite(raw) ? raw : 0;
      setOwn(data, key, start + by);
    }
  }
  for (const key of change.consumeFlash ?? []) {
    if (hasOwn(flash, key)) {
      setOwn(result.consumedFlash, key, flash[key] as JsonValue);
      delete flash[key];
    }
  }
  if (change.flash) for (const key of Object.keys(change.flash)) setOwn(flash, key, change.flash[key] as JsonValue);

  let tokens = base.tokens;
  if (change.consumeTokens?.length) {
    const wanted = new Set(change.consumeTokens);
    tokens = tokens.filter((t) => {
      if (!wanted.has(t)) return true;
      wanted.delete(t); // a token listed twice in the ring is consumed once
      result.consumedTokens.push(t);
      return false;
    });
  }
  if (change.addTokens?.length) tokens = [...tokens, ...change.addTokens].slice(-TOKEN_RING_SIZE);

  const next: SessionRecord = {
    data,
    flash,
    tokens: tokens === base.tokens ? [...tokens] : tokens,
    createdAt: base.createdAt,
    lastSeen: Math.max(base.lastSeen, change.lastSeen),
  };
  const user = change.user !== undefined ? change.user : base.user;
  if (user != null) next.user = user;
  const meta = change.meta !== undefined ? change.meta : base.meta;
  if (meta !== undefined) next.meta = { ...meta };
  result.record = next;
  return result;
}

/** True when applying the change would change nothing but `lastSeen`. */
export function isEmptyChange(change: SessionChange): boolean {
  return !(
    change.clear ||
    change.reset ||
    change.remove?.length ||
    (change.put && Object.keys(change.put).length) ||
    (change.increment && Object.keys(change.increment).length) ||
    change.consumeFlash?.length ||
    (change.flash && Object.keys(change.flash).length) ||
    change.consumeTokens?.length ||
    change.addTokens?.length ||
    change.user !== undefined ||
    change.meta !== undefined
  );
}

/** A record read from a store, checked for shape: anything else reads as absent. */
export function isSessionRecord(value: unknown): value is SessionRecord {
  if (value === null || typeof value !== 'object') return false;
  const r = value as Partial<SessionRecord>;
  return (
    typeof r.data === 'object' && r.data !== null && !Array.isArray(r.data) &&
    typeof r.flash === 'object' && r.flash !== null && !Array.isArray(r.flash) &&
    Array.isArray(r.tokens) &&
    typeof r.createdAt === 'number' &&
    typeof r.lastSeen === 'number'
  );
}

/**
 * `change` with `ifExists` and `lastSeen` set, as a copy with its fields in one
 * fixed order. (A spread of a request's change, whose fields come in any order,
 * takes V8's slow generic path: it was the costliest line of a commit.)
 * @internal
 */
export function stampChange(change: SessionChange, ifExists: boolean, lastSeen: number): SessionChange {
  const out: SessionChange = { ifExists, lastSeen };
  if (change.reset !== undefined) out.reset = change.reset;
  if (change.clear !== undefined) out.clear = change.clear;
  if (change.remove !== undefined) out.remove = change.remove;
  if (change.put !== undefined) out.put = change.put;
  if (change.increment !== undefined) out.increment = change.increment;
  if (change.consumeFlash !== undefined) out.consumeFlash = change.consumeFlash;
  if (change.flash !== undefined) out.flash = change.flash;
  if (change.consumeTokens !== undefined) out.consumeTokens = change.consumeTokens;
  if (change.addTokens !== undefined) out.addTokens = change.addTokens;
  if (change.user !== undefined) out.user = change.user;
  if (change.meta !== undefined) out.meta = change.meta;
  return out;
}

/**
 * The `UpdateResult` of a change that was written (or, without `version`, of
 * one that was not), built field by field rather than by a rest and a spread.
 * @internal
 */
export function updateResult(result: ChangeResult, version?: RecordVersion): UpdateResult {
  if (version === undefined) return { existed: result.existed, written: false, consumedTokens: result.consumedTokens, consumedFlash: result.consumedFlash };
  return { existed: result.existed, written: true, consumedTokens: result.consumedTokens, consumedFlash: result.consumedFlash, record: result.record, version };
}
