import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limit.ts';

describe('RateLimiter', () => {
  it('allows a burst up to the limit, then says when the next permit comes', () => {
    const limiter = new RateLimiter(3);
    expect([1, 2, 3].map(() => limiter.take('a', 0).ok)).toEqual([true, true, true]);
    expect(limiter.take('a', 0)).toEqual({ ok: false, retryAfterSeconds: 20 });
    // Other callers have their own bucket.
    expect(limiter.take('b', 0).ok).toBe(true);
  });

  it('refills at the steady rate', () => {
    const limiter = new RateLimiter(60);
    for (let i = 0; i < 60; i++) limiter.take('a', 0);
    expect(limiter.take('a', 0).ok).toBe(false);
    expect(limiter.take('a', 500)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(limiter.take('a', 1000).ok).toBe(true);
    expect(limiter.take('a', 1000).ok).toBe(false);
    expect(limiter.take('a', 60_000 * 5).ok).toBe(true);
  });
});
