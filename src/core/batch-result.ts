import type { TokenUsage } from './outcome.ts';

/**
 * Splitting one batched agent session back into its tasks. Pure.
 *
 * Results are matched to tasks by item number (1-based, in prompt order). An item the session did
 * not answer gets an error instead: its task fails that attempt on its own, while the others keep
 * their results.
 */

export type ItemOutput = { ok: true; output: Record<string, unknown> } | { ok: false; error: string };

export function splitBatchOutput(structuredOutput: unknown, count: number): ItemOutput[] {
  const results = (structuredOutput as { results?: unknown } | null | undefined)?.results;
  const byItem = new Map<number, Record<string, unknown>>();
  if (Array.isArray(results)) {
    for (const entry of results) {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) continue;
      const { item, ...output } = entry as Record<string, unknown>;
      // The first answer for an item counts; a repeat cannot overwrite it.
      if (
        Number.isInteger(item) &&
        (item as number) >= 1 &&
        (item as number) <= count &&
        !byItem.has(item as number)
      ) {
        byItem.set(item as number, output);
      }
    }
  }
  return Array.from({ length: count }, (_, i): ItemOutput => {
    const output = byItem.get(i + 1);
    return output
      ? { ok: true, output }
      : {
          ok: false,
          error: Array.isArray(results)
            ? `the batched agent session gave no result for item ${i + 1} of ${count}`
            : `the batched agent session gave no list of results (expected {"results": [...]}) for item ${i + 1} of ${count}`,
        };
  });
}

export interface SessionSpend {
  usage: TokenUsage;
  costUsd: number;
  apiRequests: number;
}

/**
 * Each task's share of what one batched session spent: an equal split. Tokens and requests are
 * whole numbers, so the remainder goes one each to the first items; the shares always add up to
 * the session's totals, which is what keeps the agent's quota windows right (the session spent
 * them once). Equal rather than proportional to item size: the session's fixed cost (system
 * prompt, tools) dominates small items, and the split stays easy to explain.
 */
export function shareBatchSpend(total: SessionSpend, count: number): SessionSpend[] {
  const split = (value: number) => {
    const base = Math.floor(value / count);
    const remainder = value - base * count;
    return Array.from({ length: count }, (_, i) => base + (i < remainder ? 1 : 0));
  };
  const input = split(total.usage.inputTokens);
  const output = split(total.usage.outputTokens);
  const cacheRead = split(total.usage.cacheReadTokens);
  const cacheWrite = split(total.usage.cacheWriteTokens);
  const requests = split(total.apiRequests);
  const costEach = total.costUsd / count;
  return Array.from({ length: count }, (_, i) => ({
    usage: {
      inputTokens: input[i]!,
      outputTokens: output[i]!,
      cacheReadTokens: cacheRead[i]!,
      cacheWriteTokens: cacheWrite[i]!,
    },
    // The last share takes what rounding left, so the shares sum to the session's cost.
    costUsd: i === count - 1 ? total.costUsd - costEach * (count - 1) : costEach,
    apiRequests: requests[i]!,
  }));
}
