import { type KeyObject, createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import { isIdShape } from './ids.js';

const SIGNATURE_LENGTH = 43; // HMAC-SHA256, base64url without padding

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
  const givenBytes = Buffer.from(given, 'base64url');
  // A 43-character base64url string carries 258 bits; the last two must be zero,
  // or two different strings would decode to the same bytes and both pass.
  if (givenBytes.length !== 32 || givenBytes.toString('base64url') !== given) return undefined;
  for (let i = 0; i < secrets.length; i++) {
    const expected = createHmac('sha256', secrets[i] as KeyObject).update(id).digest();
    // Why timingSafeEqual: a byte-by-byte compare that stops early leaks, through
    // response times, how many leading bytes of a forged signature are right.
    if (timingSafeEqual(expected, givenBytes)) return { id, secretIndex: i };
  }
  return undefined;
}
