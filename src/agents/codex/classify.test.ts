import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../core/outcome.ts';
import { addUsage } from '../response-usage.ts';
import type { EarlyStop, StopCause } from '../run-verdict.ts';
import { classifyCodex } from './classify.ts';
import { responsesUsage } from './response-usage.ts';
import { CodexStreamState } from './stream-state.ts';

/**
 * Every row of the Codex failure table in shared/protocols/agent-cli.md §3, replayed from what
 * the real CLI printed (test/fixtures/codex-streams, recorded by scripts/record-codex-streams.ts),
 * with the model API responses as the tap saw them. The replay stops where the driver would.
 */
interface Recording {
  exit: { code: number | null; signal: string | null };
  stderr: string;
  responses: Array<{ status: number; headers: Record<string, string> }>;
  events: unknown[];
}

const FIXTURES = new URL('../../../test/fixtures/codex-streams/', import.meta.url);
const load = (name: string): Recording => JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8'));
const run = { model: 'gpt-5.5-codex', structured: false };
const NOW = new Date('2026-12-06T12:00:00Z');

function replay(name: string, options: { tap?: boolean; stop?: StopCause } = {}) {
  const recording = load(name);
  const state = new CodexStreamState();
  let early: EarlyStop | undefined;
  if (options.tap !== false) {
    for (const response of recording.responses) {
      early ??= state.observeResponse(response.status, (header) => response.headers[header], NOW);
    }
  }
  for (const event of recording.events) state.consume(event);
  const stop = options.stop ?? (early ? { kind: 'early' as const, stop: early } : undefined);
  return classifyCodex(
    state,
    { ...recording.exit, exitCode: recording.exit.code, stderrTail: recording.stderr },
    run,
    stop,
  );
}

const TABLE: Array<
  [string, Outcome, { retryable?: boolean; signal: string; field?: string; value?: unknown }]
> = [
  ['success', 'succeeded', { signal: 'turn.completed' }],
  ['rate-limit-429', 'rate_limited', { signal: 'response', field: 'status', value: 429 }],
  [
    'quota-exhausted',
    'quota_exhausted',
    { signal: 'turn.failed', field: 'error.message', value: 'Quota exceeded' },
  ],
  ['auth-401', 'auth_failed', { signal: 'response', field: 'status', value: 401 }],
  ['server-500', 'infra_error', { signal: 'response', field: 'status', value: 500 }],
  ['unavailable-503', 'infra_error', { signal: 'response', field: 'status', value: 503 }],
  ['bad-request-400', 'failed', { retryable: false, signal: 'response', field: 'status', value: 400 }],
  [
    'stall',
    'stalled',
    { signal: 'turn.failed', field: 'error.message', value: 'idle timeout waiting for SSE' },
  ],
];

describe('the Codex classifier, on recordings of the real CLI', () => {
  it.each(TABLE)('%s → %s', (name, outcome, evidence) => {
    const verdict = replay(name);
    expect(verdict.outcome).toBe(outcome);
    expect(verdict.evidence).toMatchObject({
      signal: evidence.signal,
      ...(evidence.field ? { field: evidence.field, value: evidence.value } : {}),
    });
    if (evidence.retryable !== undefined) expect(verdict.retryable).toBe(evidence.retryable);
  });

  it('reads the message alone when no response passed the tap', () => {
    expect(replay('rate-limit-429', { tap: false })).toMatchObject({
      outcome: 'rate_limited',
      evidence: { signal: 'turn.failed', value: '429 Too Many Requests' },
    });
    expect(replay('auth-401', { tap: false })).toMatchObject({ outcome: 'auth_failed', retryable: false });
    expect(replay('bad-request-400', { tap: false })).toMatchObject({ outcome: 'failed', retryable: false });
    // 5xx words say nothing ("high demand" for every one): the API's trouble, worth another try.
    expect(replay('server-500', { tap: false })).toMatchObject({ outcome: 'infra_error', retryable: true });
  });

  it('accounts the run: its answer and thread, and the use the tap read off each response, at our price', () => {
    const recording = load('success');
    const state = new CodexStreamState();
    for (const event of recording.events) state.consume(event);
    const completed = (input: number, cached: number, output: number) =>
      responsesUsage({
        type: 'response.completed',
        response: {
          model: 'gpt-5.5-codex',
          usage: {
            input_tokens: input,
            input_tokens_details: { cached_tokens: cached },
            output_tokens: output,
          },
        },
      })!;
    addUsage(state.usageByModel, completed(1000, 200, 50));
    addUsage(state.usageByModel, completed(1300, 1000, 30));
    const verdict = classifyCodex(state, { exitCode: 0, signal: null, stderrTail: '' }, run);
    expect(verdict).toMatchObject({
      resultText: 'The answer is 42.',
      sessionId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      usage: { inputTokens: 1100, outputTokens: 80, cacheReadTokens: 1200, cacheWriteTokens: 0 },
      model: 'gpt-5.5-codex',
    });
    expect(verdict.costUsd).toBeGreaterThan(0);
    // A run stopped midway is charged what the tap saw, not nothing.
    expect(
      classifyCodex(state, { exitCode: null, signal: 'SIGTERM', stderrTail: '' }, run, { kind: 'cancel' })
        .usage.outputTokens,
    ).toBe(80);
  });

  it('parses a structured answer, and keeps no structured output when the answer is not JSON', () => {
    const state = new CodexStreamState();
    state.consume({
      type: 'item.completed',
      item: { id: 'i', type: 'agent_message', text: '{"summary":"ok"}' },
    });
    state.consume({ type: 'turn.completed', usage: {} });
    const facts = { exitCode: 0, signal: null, stderrTail: '' };
    expect(classifyCodex(state, facts, { ...run, structured: true }).structuredOutput).toEqual({
      summary: 'ok',
    });
    state.consume({ type: 'item.completed', item: { id: 'j', type: 'agent_message', text: 'Done.' } });
    expect(classifyCodex(state, facts, { ...run, structured: true }).structuredOutput).toBeUndefined();
  });

  it('tells a run that ended without finishing its turn, and the supervisor’s own stops', () => {
    const state = new CodexStreamState();
    state.consume({ type: 'thread.started', thread_id: 't' });
    expect(
      classifyCodex(state, { exitCode: null, signal: 'SIGKILL', stderrTail: 'boom' }, run),
    ).toMatchObject({
      outcome: 'infra_error',
      evidence: { source: 'process', field: 'signal', value: 'SIGKILL' },
      error: 'codex ended (signal SIGKILL) without finishing its turn',
    });
    expect(
      classifyCodex(state, { exitCode: null, signal: 'SIGTERM', stderrTail: '' }, run, { kind: 'cancel' })
        .outcome,
    ).toBe('cancelled');
    expect(
      classifyCodex(state, { exitCode: null, signal: null, stderrTail: '', spawnError: 'ENOENT' }, run).error,
    ).toBe('could not start codex: ENOENT');
  });

  it('stops early on a rejected key and on a 429 that asks for a long wait, not on a short one', () => {
    const header = (headers: Record<string, string>) => (name: string) => headers[name];
    expect(new CodexStreamState().observeResponse(401, header({}), NOW)).toMatchObject({
      outcome: 'auth_failed',
    });
    expect(new CodexStreamState().observeResponse(429, header({ 'retry-after': '45' }), NOW)).toMatchObject({
      outcome: 'rate_limited',
      retryAfterMs: 45_000,
    });
    const short = new CodexStreamState();
    expect(short.observeResponse(429, header({ 'retry-after': '2' }), NOW)).toBeUndefined();
    expect(short.retryAfterMs).toBe(2000);
    const reset = new CodexStreamState();
    reset.observeResponse(
      429,
      header({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1m30s' }),
      NOW,
    );
    expect(reset.retryAfterMs).toBe(90_000);
  });

  it('warns while a key’s request or token window is nearly used up, from any response’s headers', () => {
    const state = new CodexStreamState();
    const limits = (remaining: string) => (name: string) =>
      ({
        'x-ratelimit-limit-tokens': '1000000',
        'x-ratelimit-remaining-tokens': remaining,
        'x-ratelimit-reset-tokens': '6m0s',
      })[name];
    state.observeResponse(200, limits('900000'), NOW);
    expect(state.quotaWarningUntil).toBeUndefined();
    state.observeResponse(200, limits('20000'), NOW);
    expect(state.quotaWarningUntil).toEqual(new Date(NOW.getTime() + 360_000));
  });

  it('knows a tool is running from its item.started until its item.completed', () => {
    const state = new CodexStreamState();
    const item = { id: 'c1', type: 'command_execution', command: 'npm test', status: 'in_progress' };
    state.consume({ type: 'item.started', item });
    expect(state.toolRunning).toBe(true);
    state.consume({ type: 'item.completed', item: { ...item, status: 'completed', exit_code: 0 } });
    expect(state.toolRunning).toBe(false);
  });
});
