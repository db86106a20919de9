import { describe, expect, it } from 'vitest';
import { parseDuration } from './token-commands.ts';

describe('parseDuration', () => {
  it('reads minutes, hours and days', () => {
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('12h')).toBe(43_200_000);
    expect(parseDuration('90d')).toBe(7_776_000_000);
  });

  it('refuses anything else', () => {
    for (const text of ['', '10', 'd', '1w', '-1d', '1.5h', '1d2h'])
      expect(parseDuration(text)).toBeUndefined();
  });
});
