import type { TokenUsage } from './outcome.ts';

/**
 * The supervisor's own price table, in US dollars per million tokens. Billing figures are computed
 * from token counts with this table; the CLI's own estimate is kept only to cross-check.
 * The first matching pattern wins, so specific model names come before their family.
 */
export interface ModelPrice {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

const TABLE: Array<{ pattern: RegExp; price: ModelPrice }> = [
  { pattern: /sonnet-5-5/, price: { input: 2, output: 10, cacheRead: 0.2, cacheWrite: 2.5 } },
  { pattern: /opus/, price: { input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25 } },
  { pattern: /sonnet/, price: { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 } },
  { pattern: /haiku/, price: { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 } },
  { pattern: /fable/, price: { input: 10, output: 50, cacheRead: 1, cacheWrite: 12.5 } },
  // OpenAI (Codex agents) and Google (Gemini agents): the providers' list prices per family; cached
  // input is read at their cache price, and neither charges for writing the cache.
  { pattern: /gpt-5.*(mini|nano)/, price: { input: 0.25, output: 2, cacheRead: 0.025, cacheWrite: 0 } },
  { pattern: /gpt-5/, price: { input: 1.25, output: 10, cacheRead: 0.125, cacheWrite: 0 } },
  { pattern: /gemini-.*flash/, price: { input: 0.3, output: 2.5, cacheRead: 0.075, cacheWrite: 0 } },
  { pattern: /gemini-.*pro/, price: { input: 1.25, output: 10, cacheRead: 0.31, cacheWrite: 0 } },
];

/** Models we do not know are priced like Sonnet, and flagged so the figure is read as an estimate. */
const FALLBACK: ModelPrice = { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 };

export function priceFor(model: string): { price: ModelPrice; known: boolean } {
  const entry = TABLE.find(({ pattern }) => pattern.test(model));
  return entry ? { price: entry.price, known: true } : { price: FALLBACK, known: false };
}

export function costUsd(model: string, usage: TokenUsage): number {
  const { price } = priceFor(model);
  const dollars =
    usage.inputTokens * price.input +
    usage.outputTokens * price.output +
    usage.cacheReadTokens * price.cacheRead +
    usage.cacheWriteTokens * price.cacheWrite;
  // Rounded to a millionth of a dollar so sums of many attempts stay exact in the database.
  return Math.round(dollars) / 1_000_000;
}
