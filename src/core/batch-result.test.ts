import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { shareBatchSpend, splitBatchOutput } from './batch-result.ts';

describe('splitting a batched session', () => {
  it('hands every item its own result, whatever the order', () => {
    const split = splitBatchOutput(
      {
        results: [
          { item: 2, summary: 'two' },
          { item: 1, summary: 'one' },
        ],
      },
      2,
    );
    expect(split).toEqual([
      { ok: true, output: { summary: 'one' } },
      { ok: true, output: { summary: 'two' } },
    ]);
  });

  it('fails only the items without an answer, and keeps the first answer of a repeated item', () => {
    const split = splitBatchOutput(
      {
        results: [
          { item: 1, summary: 'first' },
          { item: 1, summary: 'again' },
          { item: 9, summary: 'out of range' },
          { item: '3', summary: 'not a number' },
          null,
        ],
      },
      3,
    );
    expect(split[0]).toEqual({ ok: true, output: { summary: 'first' } });
    expect(split[1]).toEqual({
      ok: false,
      error: 'the batched agent session gave no result for item 2 of 3',
    });
    expect(split[2]).toMatchObject({ ok: false });
  });

  it('fails every item when there is no list of results at all', () => {
    for (const output of [undefined, null, 'text', { summary: 'one result, not a list' }]) {
      const split = splitBatchOutput(output, 2);
      expect(split.every((item) => !item.ok)).toBe(true);
      expect(split[0]).toMatchObject({ error: expect.stringContaining('no list of results') });
    }
  });
});

describe('sharing a batched session’s spend', () => {
  it('splits equally, the remainder to the first items', () => {
    const shares = shareBatchSpend(
      {
        usage: { inputTokens: 10, outputTokens: 3, cacheReadTokens: 0, cacheWriteTokens: 7 },
        costUsd: 0.3,
        apiRequests: 2,
      },
      3,
    );
    expect(shares.map((s) => s.usage.inputTokens)).toEqual([4, 3, 3]);
    expect(shares.map((s) => s.usage.outputTokens)).toEqual([1, 1, 1]);
    expect(shares.map((s) => s.usage.cacheWriteTokens)).toEqual([3, 2, 2]);
    expect(shares.map((s) => s.apiRequests)).toEqual([1, 1, 0]);
    expect(shares[0]!.costUsd).toBeCloseTo(0.1, 12);
  });

  it('always adds up to what the session spent', () => {
    fc.assert(
      fc.property(
        fc.nat(10_000_000),
        fc.nat(1000),
        fc.double({ min: 0, max: 1000, noNaN: true }),
        fc.integer({ min: 1, max: 100 }),
        (tokens, requests, costUsd, count) => {
          const shares = shareBatchSpend(
            {
              usage: { inputTokens: tokens, outputTokens: tokens, cacheReadTokens: 0, cacheWriteTokens: 0 },
              costUsd,
              apiRequests: requests,
            },
            count,
          );
          expect(shares).toHaveLength(count);
          expect(shares.reduce((sum, s) => sum + s.usage.inputTokens, 0)).toBe(tokens);
          expect(shares.reduce((sum, s) => sum + s.apiRequests, 0)).toBe(requests);
          expect(shares.reduce((sum, s) => sum + s.costUsd, 0)).toBeCloseTo(costUsd, 9);
          expect(
            Math.max(...shares.map((s) => s.usage.inputTokens)) -
              Math.min(...shares.map((s) => s.usage.inputTokens)),
          ).toBeLessThanOrEqual(1);
        },
      ),
    );
  });
});
