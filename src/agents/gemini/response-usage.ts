import type { ResponseUsage } from '../response-usage.ts';

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

/**
 * The use a Gemini API response reports in `usageMetadata` (each streamed chunk may repeat the
 * running totals; the last counts). Its prompt count includes the cached tokens, and thinking
 * tokens are billed as output.
 */
export function geminiUsage(body: unknown): ResponseUsage | undefined {
  if (!isObject(body) || !isObject(body.usageMetadata)) return undefined;
  const meta = body.usageMetadata;
  const cached = num(meta.cachedContentTokenCount);
  return {
    model: typeof body.modelVersion === 'string' ? body.modelVersion : 'unknown',
    usage: {
      inputTokens: Math.max(0, num(meta.promptTokenCount) - cached),
      outputTokens: num(meta.candidatesTokenCount) + num(meta.thoughtsTokenCount),
      cacheReadTokens: cached,
      cacheWriteTokens: 0,
    },
  };
}
