import { describe, expect, it } from 'vitest';
import { anyWordQuery } from './memory-store.ts';

describe('anyWordQuery', () => {
  it('matches any plain word, whatever syntax the text holds', () => {
    expect(anyWordQuery('Refresh token: auth/refresh.py!')).toBe('refresh | token | auth | py');
    expect(anyWordQuery(`'a' & !b | (c) <-> d:*`)).toBeUndefined();
    expect(anyWordQuery('')).toBeUndefined();
  });
});
