import { describe, expect, it } from 'vitest';
import { responsesUsage } from './codex/response-usage.ts';
import { geminiUsage } from './gemini/response-usage.ts';
import { type ResponseUsage, usageObserver } from './response-usage.ts';

/** Feeds a body to an observer in pieces of `size` bytes, as a socket might. */
function observe(contentType: string, body: string, extract: Parameters<typeof usageObserver>[1], size = 7) {
  const found: ResponseUsage[] = [];
  const observer = usageObserver(contentType, extract, (usage) => found.push(usage));
  const bytes = Buffer.from(body);
  for (let i = 0; i < bytes.length; i += size) observer.chunk(bytes.subarray(i, i + size));
  observer.end();
  return found;
}

describe('usage read off response bodies', () => {
  it('reads a Responses API stream’s response.completed, split anywhere', () => {
    const stream = [
      'event: response.created\ndata: {"type":"response.created","response":{"model":"gpt-5.5-codex"}}\n\n',
      'event: response.completed\ndata: {"type":"response.completed","response":{"model":"gpt-5.5-codex",',
      '"usage":{"input_tokens":900,"input_tokens_details":{"cached_tokens":300},"output_tokens":40}}}\n\n',
    ].join('');
    expect(observe('text/event-stream', stream, responsesUsage)).toEqual([
      {
        model: 'gpt-5.5-codex',
        usage: { inputTokens: 600, outputTokens: 40, cacheReadTokens: 300, cacheWriteTokens: 0 },
      },
    ]);
  });

  it('reads a Gemini stream’s last usage (its chunks repeat running totals) and a whole JSON answer', () => {
    const chunk = (output: number) =>
      `data: ${JSON.stringify({ modelVersion: 'gemini-3.5-pro', usageMetadata: { promptTokenCount: 100, candidatesTokenCount: output } })}\r\n\r\n`;
    expect(observe('text/event-stream', chunk(5) + chunk(12), geminiUsage)).toEqual([
      {
        model: 'gemini-3.5-pro',
        usage: { inputTokens: 100, outputTokens: 12, cacheReadTokens: 0, cacheWriteTokens: 0 },
      },
    ]);
    const json = JSON.stringify({
      modelVersion: 'gemini-router',
      usageMetadata: { promptTokenCount: 30, candidatesTokenCount: 4 },
    });
    expect(observe('application/json; charset=utf-8', json, geminiUsage)[0]?.usage.inputTokens).toBe(30);
  });

  it('finds nothing in a body without usage, or one that is not JSON', () => {
    expect(
      observe('text/event-stream', 'data: {"type":"response.created"}\n\ndata: not json\n\n', responsesUsage),
    ).toEqual([]);
    expect(observe('application/json', '<html>', geminiUsage)).toEqual([]);
  });
});
