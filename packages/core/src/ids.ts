import { randomBytes } from 'node:crypto';

/** 32 bytes (256 bits) from the CSPRNG, base64url: 43 characters. */
export const ID_LENGTH = 43;
const ID_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** A new session id. */
export function generateId(): string {
  return randomBytes(32).toString('base64url');
}

/** A new CSRF token: same strength and shape as an id. */
export const generateTokenValue = generateId;

/** Whether `value` has the shape of an id or token (checked before any store read). */
export function isIdShape(value: string): boolean {
  return value.length === ID_LENGTH && ID_SHAPE.test(value);
}
