import { type KeyObject, createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import { isIdShape } from './ids.js';

const SIGNATURE_LENGTH = 43; // HMAC-SHA256, base64url without padding
/** The base64url characters whose value is a multiple of 4: the last of a canonical 43-character encoding of 32 bytes. */
const CANONICAL_LAST = 'AEIMQUYcgkosw048';

/** A secret as an HMAC key, built once: cheaper per request than a string key. */
export function toKey(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret, 'utf8'));
}

/** HMAC-SHA256 of the id, base64url. */
export function sign(id: string, secret: KeyObject): string {
  return createHmac('sha256', secret).update(id).digest('base64url');
}

/**
 * Verifies `<id>.<signature>` against every secret, in constant time per secret.
 * Returns the id and the index of the secret that matched (0 = current), or
 * undefined for anything malformed or unsigned. Never throws.
 */
export function unsign(value: string, secrets: readonly KeyObject[]): { id: string; secretIndex: number } | undefined {
  if (value.length !== 43 + 1 + SIGNATURE_LENGTH || value.charCodeAt(43) !== 46 /* . */) return undefined;
  const id = value.slice(0, 43);
  const given = value.slice(44);
  if (!isIdShape(id) || !isIdShape(given)) return undefined;
  // A 43-character base64url string carries 258 bits; the last two must be zero,
  // or two different strings would decode to the same bytes and both pass. They
  // are zero exactly when the last character is one of these sixteen (the same
  // test as re-encoding the bytes and comparing, without the re-encoding).
  if (!CANONICAL_LAST.includes(given.charAt(42))) return undefined;
  const givenBytes = Buffer.from(given, 'base64url');
  if (givenBytes.length !== 32) return undefined;
  for (let i = 0; i < secrets.length; i++) {
    const expected = createHmac('sha256', secrets[i] as KeyObject).update(id).digest();
    // Why timingSafeEqual: a byte-by-byte compare that stops early leaks, through
    // response times, how many leading bytes of a forged signature are right.
    if (timingSafeEqual(expected, givenBytes)) return { id, secretIndex: i };
  }
  return undefined;
}

/** How many verified cookie values a manager remembers. */
export const VERIFIED_CACHE_SIZE = 4096;

/**
 * `unsign` with a memory of the cookie values it verified lately, so a
 * returning browser costs a Map lookup instead of an HMAC (in a server's CPU
 * profile the HMAC is most of what a session read costs: its code is cold
 * between requests).
 *
 * Why this is safe:
 * - Only values that passed the constant-time HMAC check enter the memory. A
 *   lookup hits only for the exact string of a cookie verified before, so a
 *   forged or altered value always misses and is checked as before; a hit
 *   needs the whole valid cookie, which is the credential itself.
 * - A hit answers faster than a miss, but learning that needs the valid
 *   cookie already. The string comparison inside the Map runs only for equal
 *   hashes of unknown, secret strings: no usable signal.
 * - The secrets are fixed for the manager's life (a rotation builds a new one),
 *   so a value valid once stays valid; whether its session still exists is the
 *   store's answer, asked on every request as before.
 * - Bounded: the oldest value is forgotten past `VERIFIED_CACHE_SIZE` (first
 *   in, first out), about 0.8 MB at most. Forged values never enter, so a
 *   flood of them cannot evict anything; a flood of valid ones only costs HMACs.
 * - The remembered strings are copies, never slices of a request's Cookie
 *   header (a slice would keep the whole header alive).
 */
export class Verifier {
  readonly #secrets: readonly KeyObject[];
  readonly #seen = new Map<string, Readonly<{ id: string; secretIndex: number }>>();
  readonly #max: number;

  constructor(secrets: readonly KeyObject[], max = VERIFIED_CACHE_SIZE) {
    this.#secrets = secrets;
    this.#max = max;
  }

  /** How many verified values it remembers now. */
  get size(): number {
    return this.#seen.size;
  }

  verify(value: string): Readonly<{ id: string; secretIndex: number }> | undefined {
    const known = this.#seen.get(value);
    if (known !== undefined) return known;
    const verified = unsign(value, this.#secrets);
    if (verified === undefined) return undefined;
    const seen = this.#seen;
    if (seen.size >= this.#max) seen.delete(seen.keys().next().value as string);
    const key = Buffer.from(value, 'latin1').toString('latin1'); // a flat copy (value is ASCII: checked by unsign)
    const remembered = Object.freeze({ id: key.slice(0, 43), secretIndex: verified.secretIndex });
    seen.set(key, remembered);
    return remembered;
  }
}
