import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fingerprint, localSecretsKey, SecretBox } from './secrets.ts';

describe('SecretBox', () => {
  it('seals and opens, and never shows the plaintext', () => {
    const box = new SecretBox('correct horse battery staple');
    const sealed = box.seal('sk-ant-very-secret');
    expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain('very-secret');
    expect(box.open(sealed)).toBe('sk-ant-very-secret');
    expect(box.seal('same')).not.toBe(box.seal('same'));
  });

  it('refuses a wrong key or a tampered value with a clear message', () => {
    const sealed = new SecretBox('key one').seal('secret');
    expect(() => new SecretBox('key two').open(sealed)).toThrow('SECRETS_KEY differs');
    const [v, iv, tag, data] = sealed.split('.');
    const tampered = [v, iv, tag, `${data!.slice(0, -2)}AA`].join('.');
    expect(() => new SecretBox('key one').open(tampered)).toThrow('cannot decrypt');
  });

  it('fingerprints without revealing, and keeps a local key private', () => {
    expect(fingerprint('sk-a')).toMatch(/^[0-9a-f]{12}$/);
    expect(fingerprint('sk-a')).not.toBe(fingerprint('sk-b'));
    const path = join(mkdtempSync(join(tmpdir(), 'keys-')), 'secrets.key');
    const key = localSecretsKey(path);
    expect(localSecretsKey(path)).toBe(key);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});
