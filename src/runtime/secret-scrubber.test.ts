import { describe, expect, it } from 'vitest';
import { registerSecret, registerUrlSecret, scrubSecrets } from './secret-scrubber.ts';

describe('secret scrubber', () => {
  it('replaces every registered secret, in plain, JSON-escaped and URL-encoded form', () => {
    registerSecret('sk-ant-api03-abcdefghijklmnop');
    registerSecret('pa"ss\\word-1234');
    registerSecret('short'); // too short to tell from ordinary text: ignored
    expect(scrubSecrets('key=sk-ant-api03-abcdefghijklmnop and again sk-ant-api03-abcdefghijklmnop')).toBe(
      'key=[redacted] and again [redacted]',
    );
    expect(scrubSecrets(JSON.stringify({ p: 'pa"ss\\word-1234' }))).toBe('{"p":"[redacted]"}');
    expect(scrubSecrets('a short word')).toBe('a short word');
  });

  it('takes the password out of a URL', () => {
    registerUrlSecret('postgres://app:s3cr3t-p%40ss@db:5432/app');
    expect(scrubSecrets('connecting with s3cr3t-p@ss failed')).toBe('connecting with [redacted] failed');
    expect(scrubSecrets('url postgres://app:s3cr3t-p%40ss@db:5432/app')).toBe('url [redacted]');
  });
});
