import { createHash, randomBytes } from 'node:crypto';

/**
 * API token values. A token is `sv_` and 43 base64url characters (256 random bits); only its
 * SHA-256 is stored, so a database leak does not give anyone a working token. A slow hash is not
 * needed: the value is random, not a password a person chose.
 */
const PREFIX = 'sv_';
const TOKEN_PATTERN = /^sv_[A-Za-z0-9_-]{43}$/;

export function generateToken(): string {
  return `${PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Whether a string has the shape of a token (a cheap check before any database lookup). */
export function looksLikeToken(value: string): boolean {
  return TOKEN_PATTERN.test(value);
}

/** The first characters, shown in listings so people can tell their tokens apart. */
export function displayPrefix(token: string): string {
  return token.slice(0, PREFIX.length + 6);
}
