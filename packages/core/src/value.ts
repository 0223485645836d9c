import { ValueError } from './errors.js';
import type { JsonValue } from './types.js';

/** Deeper than this is refused: JSON parsers and our own walk recurse. */
export const MAX_DEPTH = 1000;

/**
 * Checks that `value` survives a JSON round trip unchanged and returns a private
 * copy of it, so a later mutation of the caller's object cannot leak into the
 * session unnoticed. Throws `ValueError` naming the offending path.
 *
 * Why not JSON.stringify: it silently drops functions and undefined array items,
 * turns NaN into null and Dates into strings; a session should refuse what it
 * would not give back.
 */
export function toStorable(value: unknown, key: string): JsonValue {
  return copy(value, key, 0, new Set());
}

function copy(value: unknown, path: string, depth: number, seen: Set<object>): JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value)) return value;
      throw refuse(path, `${value} is not a finite number`);
    case 'object':
      break;
    default:
      throw refuse(path, `a ${typeof value} cannot be stored as JSON`);
  }
  if (value === null) return null;
  if (depth >= MAX_DEPTH) throw refuse(path, `it is nested deeper than ${MAX_DEPTH} levels`);
  if (seen.has(value)) throw refuse(path, 'it contains a reference to itself (a cycle)');
  seen.add(value);
  let out: JsonValue;
  if (Array.isArray(value)) {
    const arr: JsonValue[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      if (value[i] === undefined) throw refuse(`${path}[${i}]`, 'undefined in an array would come back as null');
      arr[i] = copy(value[i], `${path}[${i}]`, depth + 1, seen);
    }
    out = arr;
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const name = (value as object).constructor?.name ?? 'object';
      const hint = value instanceof Date ? ' (store date.toISOString() or date.getTime())' : ' (store a plain object)';
      throw refuse(path, `a ${name} would not come back as itself${hint}`);
    }
    const obj: Record<string, JsonValue> = {};
    for (const k of Object.keys(value)) {
      const v = (value as Record<string, unknown>)[k];
      if (v === undefined) continue; // dropped, as JSON does: the key reads as absent
      // defineProperty, not assignment: a key named "__proto__" stays a plain own property.
      Object.defineProperty(obj, k, { value: copy(v, `${path}.${k}`, depth + 1, seen), enumerable: true, writable: true, configurable: true });
    }
    out = obj;
  }
  seen.delete(value);
  return out;
}

function refuse(path: string, why: string): ValueError {
  return new ValueError(`[sess] cannot store session value "${path}": ${why}.`);
}

/** A deep copy of stored JSON data, keeping "__proto__" keys as own properties. */
export function cloneJson<T extends JsonValue>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => cloneJson(v)) as T;
  const out: Record<string, JsonValue> = {};
  for (const k of Object.keys(value)) {
    Object.defineProperty(out, k, { value: cloneJson(value[k] as JsonValue), enumerable: true, writable: true, configurable: true });
  }
  return out as T;
}

/** Sets an own property without ever touching a prototype. */
export function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/**
 * Freezes stored JSON data in place, deeply, and returns it. Values a session
 * hands out are frozen so that a change in place (`session.get('cart').push(x)`)
 * throws at once, the same on every store, instead of being saved by some and
 * lost by others. A frozen object is taken as frozen all the way down (this
 * function is the only one that freezes session values).
 */
export function freezeJson<T extends JsonValue>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  Object.freeze(value);
  if (Array.isArray(value)) for (const item of value) freezeJson(item);
  else for (const key of Object.keys(value)) freezeJson(value[key] as JsonValue);
  return value;
}
