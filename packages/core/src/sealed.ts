/**
 * Sessions without a store: the whole record sealed into the cookie with
 * AES-256-GCM. Keys are derived once, at start-up, from each secret with
 * HKDF-SHA256 (never per request); the first secret seals, all unseal, so
 * secrets rotate as for signed cookies. The cookie name is authenticated data:
 * a sealed value moved to another cookie name does not open.
 *
 * Sealed value: base64url( version (1 byte) | iv (12) | ciphertext | tag (16) ),
 * the plaintext being JSON `{ id, record }`.
 */
import { type KeyObject, createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes } from 'node:crypto';
import { isSessionRecord } from './change.js';
import { isIdShape } from './ids.js';
import type { SessionRecord } from './types.js';

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** The most a browser keeps of one cookie (name, value and attributes): RFC 6265's minimum, what every browser honours. */
export const COOKIE_LIMIT = 4096;

export class Sealer {
  readonly #keys: KeyObject[];
  readonly #aad: Buffer;

  constructor(secrets: readonly string[], cookieName: string) {
    // Why HKDF: the secret is a passphrase-like string; the cipher needs a uniform
    // 256-bit key, and a key of its own (not the signing key) for this purpose.
    this.#keys = secrets.map((secret) =>
      createSecretKey(Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.from('sess sealed cookie salt'), Buffer.from('sess sealed cookie v1'), 32))),
    );
    this.#aad = Buffer.from(cookieName, 'utf8');
  }

  seal(id: string, record: SessionRecord): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#keys[0]!, iv);
    cipher.setAAD(this.#aad);
    const body = Buffer.concat([cipher.update(JSON.stringify({ id, record }), 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** The id and record, and which secret opened it; undefined for anything tampered, truncated or foreign. Never throws. */
  unseal(value: string): { id: string; record: SessionRecord; secretIndex: number } | undefined {
    if (value.length < 40 || value.length > COOKIE_LIMIT * 2 || !/^[A-Za-z0-9_-]+$/.test(value)) return undefined;
    const bytes = Buffer.from(value, 'base64url');
    // Canonical encoding only: otherwise two strings (differing in unused trailing bits) open alike.
    if (bytes.toString('base64url') !== value) return undefined;
    if (bytes.length < 1 + IV_BYTES + TAG_BYTES + 2 || bytes[0] !== VERSION) return undefined;
    const iv = bytes.subarray(1, 1 + IV_BYTES);
    const tag = bytes.subarray(bytes.length - TAG_BYTES);
    const body = bytes.subarray(1 + IV_BYTES, bytes.length - TAG_BYTES);
    for (let i = 0; i < this.#keys.length; i++) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', this.#keys[i]!, iv);
        decipher.setAAD(this.#aad);
        decipher.setAuthTag(tag);
        const plain = Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
        const parsed = JSON.parse(plain) as { id?: unknown; record?: unknown };
        if (typeof parsed.id !== 'string' || !isIdShape(parsed.id) || !isSessionRecord(parsed.record)) return undefined;
        return { id: parsed.id, record: parsed.record, secretIndex: i };
      } catch {
        // Wrong key or tampered: GCM's tag check failed. Try the next secret.
      }
    }
    return undefined;
  }
}
