import { describe, expect, it } from 'vitest';
import { costUsd, priceFor } from './pricing.ts';

describe('pricing', () => {
  it('prices by model family, specific names first', () => {
    expect(priceFor('claude-sonnet-5-5').price.input).toBe(2);
    expect(priceFor('claude-sonnet-4-5').price.input).toBe(3);
    expect(priceFor('claude-opus-4-8[1m]').price.output).toBe(25);
    expect(priceFor('claude-haiku-4-5-20251001').price.input).toBe(1);
    expect(priceFor('gpt-5.5-codex').price).toMatchObject({ input: 1.25, cacheRead: 0.125 });
    expect(priceFor('gpt-5.5-codex-mini').price.input).toBe(0.25);
    expect(priceFor('gemini-3.5-pro').price.output).toBe(10);
    expect(priceFor('gemini-3.5-flash-lite').price.input).toBe(0.3);
    expect(priceFor('gpt-scripted')).toMatchObject({ known: false });
  });

  it('computes cost from every kind of token', () => {
    // 600 in, 60 out on Sonnet: the CLI reported $0.0027 for the same run.
    expect(
      costUsd('claude-sonnet-4-5', {
        inputTokens: 600,
        outputTokens: 60,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
      }),
    ).toBe(0.0027);
    expect(
      costUsd('claude-opus-4-8', {
        inputTokens: 0,
        outputTokens: 0,
        cacheReadTokens: 1_000_000,
        cacheWriteTokens: 1_000_000,
      }),
    ).toBe(6.75);
  });

  it('flags unknown models and prices them like Sonnet', () => {
    expect(priceFor('my-custom-model-1')).toEqual({
      price: priceFor('claude-sonnet-4-5').price,
      known: false,
    });
  });
});
