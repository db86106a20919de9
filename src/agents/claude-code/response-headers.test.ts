import { describe, expect, it } from 'vitest';
import * as steps from '../../scripted-model/steps.ts';
import { retryAfterMs, unifiedRateLimit } from './response-headers.ts';

const NOW = new Date('2026-12-06T10:00:00Z');
const reader = (headers: Record<string, string>) => (name: string) => headers[name];
const headersOf = (step: ReturnType<typeof steps.rateLimit>) =>
  (step as { headers?: Record<string, string> }).headers ?? {};

describe('unifiedRateLimit', () => {
  it('reads a quota rejection as the CLI would report it for a subscription', () => {
    const reset = Math.floor(NOW.getTime() / 1000) + 3600;
    expect(unifiedRateLimit(reader(headersOf(steps.quotaExhausted(reset))))).toEqual({
      status: 'rejected',
      resetsAt: reset,
      rateLimitType: 'five_hour',
      utilization: 1,
    });
    expect(unifiedRateLimit(reader(headersOf(steps.quotaExhausted(reset, 'seven_day'))))).toMatchObject({
      rateLimitType: 'seven_day',
    });
  });

  it('reads a warning, and nothing from a response without unified headers', () => {
    const reset = Math.floor(NOW.getTime() / 1000) + 600;
    expect(unifiedRateLimit(reader(steps.quotaWarningHeaders(0.85, 0.8, reset)))).toEqual({
      status: 'allowed_warning',
      resetsAt: reset,
      rateLimitType: 'five_hour',
      utilization: 0.85,
    });
    expect(unifiedRateLimit(reader({ 'retry-after': '5' }))).toBeUndefined();
  });
});

describe('retryAfterMs', () => {
  it.each([
    ['retry-after in seconds', 429, { 'retry-after': '120' }, 120_000],
    ['retry-after as an HTTP date', 429, { 'retry-after': 'Sun, 06 Dec 2026 10:01:30 GMT' }, 90_000],
    [
      'the earliest reset of an exhausted limit',
      429,
      {
        'anthropic-ratelimit-requests-remaining': '0',
        'anthropic-ratelimit-requests-reset': '2026-12-06T10:00:40Z',
        'anthropic-ratelimit-tokens-remaining': '5000',
        'anthropic-ratelimit-tokens-reset': '2026-12-06T10:00:05Z',
      },
      40_000,
    ],
    ['no time named', 429, {}, undefined],
    ['not a 429', 200, { 'retry-after': '10' }, undefined],
  ])('%s', (_name, status, headers, expected) => {
    expect(retryAfterMs(status, reader(headers), NOW)).toBe(expected);
  });
});
