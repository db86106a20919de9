import { describe, expect, it } from 'vitest';
import { findUnstorableText } from './storable-text.ts';

describe('findUnstorableText', () => {
  it('names the first field PostgreSQL could not store', () => {
    expect(findUnstorableText({ payload: { title: 'ok', body: 'a\u0000b' } }, 'body')).toBe(
      'body.payload.body',
    );
    expect(findUnstorableText({ list: ['fine', '\ud800'] }, 'body')).toBe('body.list.1');
    expect(findUnstorableText({ 'k\u0000': 1 }, 'query')).toBe('query.k\u0000');
  });

  it('accepts ordinary text, including paired surrogates (emoji)', () => {
    expect(
      findUnstorableText({ title: 'Fix 🐛 in naïve code', n: 1, ok: true, none: null }, 'body'),
    ).toBeUndefined();
  });
});
