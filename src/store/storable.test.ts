import { describe, expect, it } from 'vitest';
import { storable } from './storable.ts';

describe('storable', () => {
  it('replaces NUL and lone surrogates, in strings, arrays, objects and keys', () => {
    expect(storable('a\u0000b')).toBe('a\uFFFDb');
    expect(storable('x\uD800y')).toBe('x\uFFFDy');
    expect(storable({ text: ['ok', 'bad\u0000'], 'k\u0000': 1 })).toEqual({
      text: ['ok', 'bad\uFFFD'],
      'k\uFFFD': 1,
    });
  });

  it('returns what is already storable as it is, without copying', () => {
    const event = { type: 'assistant', message: { content: [{ text: 'héllo 😀' }] }, at: new Date(0) };
    expect(storable(event)).toBe(event);
    expect(storable(null)).toBeNull();
    expect(storable(42)).toBe(42);
  });
});
