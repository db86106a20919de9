import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../core/outcome.ts';
import { addUsage } from '../response-usage.ts';
import type { EarlyStop } from '../run-verdict.ts';
import { classifyGemini } from './classify.ts';
import { geminiUsage } from './response-usage.ts';
import { GeminiStreamState } from './stream-state.ts';

/**
 * Every row of the Gemini failure table in shared/protocols/agent-cli.md §4, replayed from what
 * the real CLI printed (test/fixtures/gemini-streams, recorded by scripts/record-gemini-streams.ts),
 * with the model API responses as the tap saw them. The replay stops where the driver would.
 */
interface Recording {
  exit: { code: number | null; signal: string | null };
  stderr: string;
  responses: Array<{ status: number; headers: Record<string, string> }>;
  events: Array<Record<string, unknown>>;
}

const FIXTURES = new URL('../../../test/fixtures/gemini-streams/', import.meta.url);
const load = (name: string): Recording => JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8'));
const run = { model: 'gemini-3.5-pro', structured: false };

function replay(name: string, options: { tap?: boolean } = {}) {
  const recording = load(name);
  const state = new GeminiStreamState();
  let early: EarlyStop | undefined;
  if (options.tap !== false) {
    for (const response of recording.responses) {
      early ??= state.observeResponse(response.status, (header) => response.headers[header]);
    }
  }
  for (const event of recording.events) state.consume(event);
  const facts = {
    exitCode: recording.exit.code,
    signal: recording.exit.signal,
    stderrTail: recording.stderr,
  };
  return classifyGemini(state, facts, run, early ? { kind: 'early', stop: early } : undefined);
}

const TABLE: Array<
  [string, Outcome, { retryable?: boolean; source: string; field?: string; value?: unknown }]
> = [
  ['success', 'succeeded', { source: 'event', field: 'status', value: 'success' }],
  ['quota-exhausted', 'quota_exhausted', { source: 'event', field: 'error.message', value: 'daily quota' }],
  ['rate-limit-429', 'rate_limited', { source: 'api', field: 'status', value: 429 }],
  ['auth-400', 'auth_failed', { retryable: false, source: 'api', field: 'status', value: 400 }],
  ['unavailable-503', 'infra_error', { source: 'api', field: 'status', value: 503 }],
  ['bad-request-400', 'failed', { retryable: false, source: 'api', field: 'status', value: 400 }],
];

describe('the Gemini classifier, on recordings of the real CLI', () => {
  it.each(TABLE)('%s → %s', (name, outcome, evidence) => {
    const verdict = replay(name);
    expect(verdict.outcome).toBe(outcome);
    expect(verdict.evidence).toMatchObject({
      source: evidence.source,
      ...(evidence.field ? { field: evidence.field, value: evidence.value } : {}),
    });
    if (evidence.retryable !== undefined) expect(verdict.retryable).toBe(evidence.retryable);
  });

  it('reads the exit code and the message when no response passed the tap', () => {
    expect(replay('quota-exhausted', { tap: false })).toMatchObject({ outcome: 'quota_exhausted' });
    expect(replay('auth-400', { tap: false })).toMatchObject({
      outcome: 'auth_failed',
      retryable: false,
      evidence: { source: 'process', field: 'code', value: 144 },
    });
    expect(replay('bad-request-400', { tap: false })).toMatchObject({ outcome: 'failed', retryable: false });
  });

  it('tells the CLI refusing its own setup (auth method, workspace trust) from the task failing', () => {
    for (const exitCode of [41, 55]) {
      expect(
        classifyGemini(
          new GeminiStreamState(),
          { exitCode, signal: null, stderrTail: 'Invalid auth method selected.' },
          run,
        ),
      ).toMatchObject({
        outcome: 'infra_error',
        retryable: false,
        evidence: { source: 'process', field: 'code', value: exitCode },
      });
    }
  });

  it('accounts the run: its answer, its session, and the use the tap read off each response', () => {
    const recording = load('success');
    const state = new GeminiStreamState();
    for (const event of recording.events) state.consume(event);
    const metadata = (prompt: number, cached: number, output: number, thoughts = 0) =>
      geminiUsage({
        modelVersion: 'gemini-3.5-pro',
        usageMetadata: {
          promptTokenCount: prompt,
          cachedContentTokenCount: cached,
          candidatesTokenCount: output,
          thoughtsTokenCount: thoughts,
        },
      })!;
    addUsage(state.usageByModel, metadata(1000, 400, 20, 30));
    addUsage(state.usageByModel, metadata(1200, 0, 10));
    expect(classifyGemini(state, { exitCode: 0, signal: null, stderrTail: '' }, run)).toMatchObject({
      resultText: 'The answer is 42.',
      sessionId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      usage: { inputTokens: 1800, outputTokens: 60, cacheReadTokens: 400, cacheWriteTokens: 0 },
      model: 'gemini-scripted',
    });
  });

  it('reads a structured answer, fenced or not, and keeps none that is not JSON', () => {
    const answer = (text: string) => {
      const state = new GeminiStreamState();
      state.consume({ type: 'message', role: 'assistant', content: text.slice(0, 5), delta: true });
      state.consume({ type: 'message', role: 'assistant', content: text.slice(5), delta: true });
      state.consume({ type: 'result', status: 'success', stats: {} });
      return classifyGemini(
        state,
        { exitCode: 0, signal: null, stderrTail: '' },
        { ...run, structured: true },
      );
    };
    expect(answer('{"summary":"ok"}').structuredOutput).toEqual({ summary: 'ok' });
    expect(answer('```json\n{"summary":"ok"}\n```').structuredOutput).toEqual({ summary: 'ok' });
    expect(answer('All good.').structuredOutput).toBeUndefined();
  });

  it('stops at the second 429 or 5xx in a row (the CLI would retry for minutes), at once on a 401', () => {
    const none = () => undefined;
    const state = new GeminiStreamState();
    expect(state.observeResponse(429, none)).toBeUndefined();
    expect(state.observeResponse(429, none)).toMatchObject({ outcome: 'rate_limited' });
    const recovered = new GeminiStreamState();
    recovered.observeResponse(503, none);
    recovered.observeResponse(200, none);
    expect(recovered.observeResponse(503, none)).toBeUndefined();
    expect(new GeminiStreamState().observeResponse(401, none)).toMatchObject({ outcome: 'auth_failed' });
  });
});
