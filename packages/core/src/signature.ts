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
