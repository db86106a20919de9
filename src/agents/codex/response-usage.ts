import type { ResponseUsage } from '../response-usage.ts';

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

/** The events that end a response, each with the use it was billed for. */
const FINAL_EVENTS = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/**
 * The use a Responses API stream reports, in the event that ends it (`response.completed`, or
 * `response.incomplete` / `response.failed`, which are billed too). Its `input_tokens` include the
 * cached ones; ours do not.
 */
export function responsesUsage(event: unknown): ResponseUsage | undefined {
  if (!isObject(event) || !FINAL_EVENTS.has(String(event.type)) || !isObject(event.response))
    return undefined;
  const { model, usage } = event.response;
  if (!isObject(usage)) return undefined;
  const cached = isObject(usage.input_tokens_details) ? num(usage.input_tokens_details.cached_tokens) : 0;
  return {
    model: typeof model === 'string' ? model : 'unknown',
    usage: {
      inputTokens: Math.max(0, num(usage.input_tokens) - cached),
      outputTokens: num(usage.output_tokens),
      cacheReadTokens: cached,
      cacheWriteTokens: 0,
    },
  };
}
