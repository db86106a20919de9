import { StringDecoder } from 'node:string_decoder';
import type { TokenUsage } from '../core/outcome.ts';
import { costUsd } from '../core/pricing.ts';
import type { BodyObserver } from './model-api-tap.ts';

/**
 * Reads the token use of one model API response from its body as the tap passes it on: the JSON
 * of each `data:` line of an event stream, or the whole body of a JSON response, each handed to an
 * extractor; the last use an extractor finds is the response's (APIs repeat running totals). For
 * CLIs that report their use only when a run ends (Codex, Gemini), so a run stopped midway is
 * charged what it used, and its budget can be watched as it goes.
 */

export interface ResponseUsage {
  model: string;
  usage: TokenUsage;
}

export type UsageExtractor = (json: unknown) => ResponseUsage | undefined;

/** A JSON body larger than this is not read for usage (an answer this big is not a usage report). */
const MAX_JSON_BYTES = 4 * 1024 * 1024;

export function usageObserver(
  contentType: string | undefined,
  extract: UsageExtractor,
  done: (found: ResponseUsage) => void,
): BodyObserver {
  let found: ResponseUsage | undefined;
  const read = (text: string) => {
    try {
      found = extract(JSON.parse(text)) ?? found;
    } catch {
      // not JSON: nothing to read
    }
  };
  const streamed = contentType?.includes('text/event-stream') ?? false;
  // Characters split between chunks are joined before they are decoded.
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let bytes = 0;
  return {
    chunk(data) {
      bytes += data.length;
      if (!streamed) {
        if (bytes <= MAX_JSON_BYTES) pending += decoder.write(data);
        return;
      }
      const text = decoder.write(data);
      const newline = text.lastIndexOf('\n');
      if (newline < 0) {
        // A line longer than any usage report is not one: it is dropped, not kept growing.
        pending = pending.length + text.length > MAX_JSON_BYTES ? '' : pending + text;
        return;
      }
      const lines = (pending + text.slice(0, newline)).split('\n');
      pending = text.slice(newline + 1);
      for (const line of lines) if (line.startsWith('data:')) read(line.slice(5).trim());
    },
    end() {
      if (streamed ? pending.startsWith('data:') : bytes <= MAX_JSON_BYTES) {
        read(streamed ? pending.slice(5).trim() : pending);
      }
      if (found) done(found);
    },
  };
}

/** Adds one response's use into running totals by model. */
export function addUsage(byModel: Map<string, TokenUsage>, { model, usage }: ResponseUsage): void {
  const sum = byModel.get(model) ?? {
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
  };
  byModel.set(model, {
    inputTokens: sum.inputTokens + usage.inputTokens,
    outputTokens: sum.outputTokens + usage.outputTokens,
    cacheReadTokens: sum.cacheReadTokens + usage.cacheReadTokens,
    cacheWriteTokens: sum.cacheWriteTokens + usage.cacheWriteTokens,
  });
}

/** Use and our price for it, over every model a run called. */
export function pricedUsage(byModel: Map<string, TokenUsage>): { usage: TokenUsage; costUsd: number } {
  const usage: TokenUsage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
  let cost = 0;
  for (const [model, figures] of byModel) {
    usage.inputTokens += figures.inputTokens;
    usage.outputTokens += figures.outputTokens;
    usage.cacheReadTokens += figures.cacheReadTokens;
    usage.cacheWriteTokens += figures.cacheWriteTokens;
    cost += costUsd(model, figures);
  }
  return { usage, costUsd: Math.round(cost * 1_000_000) / 1_000_000 };
}
