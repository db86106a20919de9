import { createCipheriv, createDecipheriv, createHash, randomBytes, scryptSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Encryption at rest for agent credentials: AES-256-GCM with a key derived from SECRETS_KEY.
 * Sealed values read `v1.<iv>.<tag>.<ciphertext>` (base64url); a wrong key or a changed value fails
 * to open rather than yielding garbage.
 */
export class SecretBox {
  readonly #key: Buffer;

  constructor(secretsKey: string) {
    // scrypt turns any passphrase into a 256-bit key; the fixed salt keeps it stable across processes.
    this.#key = scryptSync(secretsKey, 'supervisor-secrets-v1', 32);
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv, cipher.getAuthTag(), data]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  open(sealed: string): string {
    const [version, iv, tag, data] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || data === undefined) throw new Error('not a sealed secret');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw new Error(
        'cannot decrypt a stored credential: SECRETS_KEY differs from the key it was stored with',
      );
    }
  }
}

/** First hex digits of a SHA-256: says whether a secret changed without revealing it. */
export function fingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 12);
}

/**
 * The key for a laptop install with no SECRETS_KEY: generated once into a file only the owner can
 * read. It protects a copied database, not a copied data directory; production sets SECRETS_KEY.
 */
export function localSecretsKey(path: string): string {
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  mkdirSync(dirname(path), { recursive: true });
  const key = randomBytes(32).toString('base64url');
  writeFileSync(path, `${key}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return key;
}
