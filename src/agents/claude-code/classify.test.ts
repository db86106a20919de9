import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../core/outcome.ts';
import { checkResult } from '../../core/result-check.ts';
import type { EarlyStop, StopCause } from '../run-verdict.ts';
import { type ClaudeClassification as Classification, classify } from './classify.ts';
import { ClaudeStreamState } from './stream-state.ts';

/**
 * Every row of the failure table in shared/protocols/agent-cli.md §1.6, replayed from what the real
 * CLI printed (test/fixtures/claude-streams, recorded by scripts/record-claude-streams.ts). The
 * replay stops where the driver would: at the first early-stop signal.
 */
interface Recording {
  scenario: string;
  exit: { code: number | null; signal: string | null };
  stderr: string;
  events: unknown[];
}

const FIXTURES = new URL('../../../test/fixtures/claude-streams/', import.meta.url);
const load = (name: string): Recording => JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8'));

function replay(name: string, stop?: StopCause): Classification {
  const recording = load(name);
  const state = new ClaudeStreamState();
  let early: EarlyStop | undefined;
  for (const event of recording.events) {
    early = state.consume(event);
    if (early) break;
  }
  const cause = stop ?? (early ? { kind: 'early' as const, stop: early } : undefined);
  return classify(
    state,
    { exitCode: recording.exit.code, signal: recording.exit.signal, stderrTail: recording.stderr },
    cause,
  );
}

const TABLE: Array<
  [scenario: string, outcome: Outcome, evidence: Record<string, unknown>, stop?: StopCause]
> = [
  ['success-text', 'succeeded', { signal: 'result', field: 'is_error', value: false }],
  ['success-tool-use', 'succeeded', { signal: 'result' }],
  ['permission-denied', 'permission_denied', { field: 'permission_denials', value: ['Bash'] }],
  ['rate-limited-short', 'rate_limited', { field: 'api_error_status', value: 429 }],
  ['rate-limited-long', 'rate_limited', { field: 'api_error_status', value: 429 }],
  [
    'quota-rejected-oauth',
    'quota_exhausted',
    { signal: 'rate_limit_event', value: 'rejected', detail: 'five_hour' },
  ],
  ['quota-warning-oauth', 'succeeded', { signal: 'result' }],
  ['auth-401', 'auth_failed', { signal: 'api_retry', field: 'error', value: 'authentication_failed' }],
  ['forbidden-403', 'auth_failed', { field: 'api_error_status', value: 403 }],
  ['billing', 'auth_failed', { signal: 'assistant', field: 'error', value: 'billing_error' }],
  ['not-logged-in', 'auth_failed', { signal: 'assistant', value: 'authentication_failed' }],
  ['overloaded-529', 'infra_error', { field: 'api_error_status', value: 529 }],
  ['server-error-500', 'infra_error', { field: 'api_error_status', value: 500 }],
  ['sse-error', 'infra_error', { field: 'api_error_status', value: 529 }],
  ['hang-before-headers', 'timed_out', { signal: 'result', value: 'Request timed out' }],
  ['connection-refused', 'infra_error', { signal: 'assistant', value: 'server_error' }],
  ['truncated', 'infra_error', { signal: 'assistant', value: 'unknown' }],
  ['bad-json', 'infra_error', { signal: 'assistant', value: 'unknown' }],
  ['model-not-found', 'failed', { signal: 'assistant', value: 'model_not_found' }],
  ['prompt-too-long', 'failed', { signal: 'assistant', value: 'invalid_request' }],
  ['request-too-large', 'failed', { signal: 'assistant', value: 'invalid_request' }],
  ['refusal', 'failed', { field: 'stop_reason', value: 'refusal' }],
  ['max-turns', 'turn_limit', { field: 'subtype', value: 'error_max_turns' }],
  ['max-budget', 'budget_exceeded', { field: 'subtype', value: 'error_max_budget_usd' }],
  [
    'stall-mid-stream',
    'stalled',
    { source: 'watchdog', signal: 'inactivity' },
    { kind: 'inactivity', idleMs: 5000 },
  ],
  ['root-bypass', 'infra_error', { signal: 'stderr', value: 'bypass_root' }],
  // The CLI's verdict is success; checkResult (below) finds that nothing usable came of it.
  ['plain-text-no-structured-output', 'succeeded', { signal: 'result', field: 'is_error', value: false }],
  ['ask-user-question', 'needs_input', { signal: 'assistant', field: 'tool_use', value: 'AskUserQuestion' }],
];

describe('classify (recorded Claude Code 2.1.330 streams)', () => {
  it('has a table row for every recording', () => {
    const recorded = readdirSync(FIXTURES)
      .filter((file) => file.endsWith('.json'))
      .map((file) => file.replace(/\.json$/, ''));
    expect(new Set(recorded)).toEqual(new Set(TABLE.map(([name]) => name)));
  });

  it.each(TABLE)('%s → %s', (scenario, outcome, evidence, stop) => {
    const verdict = replay(scenario, stop);
    expect(verdict.outcome).toBe(outcome);
    expect(verdict.evidence).toMatchObject(evidence);
  });

  it('keeps the question the agent asked, stopping at it', () => {
    const verdict = replay('ask-user-question');
    expect(verdict.question).toBe('Which branch should I review? (main / release)');
    expect(verdict.error).toBe('the agent stopped to ask a question');
  });

  it('finds no result in a schema run the model answered in plain text', () => {
    const verdict = replay('plain-text-no-structured-output');
    expect(verdict.structuredOutput).toBeUndefined();
    expect(
      checkResult({
        type: 'PR_REVIEW',
        structuredOutput: verdict.structuredOutput,
        ...(verdict.resultText ? { resultText: verdict.resultText } : {}),
      })?.outcome,
    ).toBe('no_result');
  });

  it('never trusts exit code 0 alone: a run with a denied tool exits 0', () => {
    expect(load('permission-denied').exit.code).toBe(0);
    expect(replay('permission-denied').outcome).toBe('permission_denied');
  });

  it('does not count a tool call a person denied against the run: the agent was told and went on', () => {
    const recording = load('permission-denied');
    const state = new ClaudeStreamState();
    for (const event of recording.events) state.consume(event);
    const denials = state.result!.permission_denials as Array<{ tool_use_id: string }>;
    const denied = denials[0]!.tool_use_id;
    state.deniedByPerson.add(denied);
    const verdict = classify(state, { exitCode: 0, signal: null, stderrTail: '' });
    expect(verdict.outcome).toBe('succeeded');
    expect(verdict.permissionDenials).toEqual([]);
  });

  it('prices usage with our own table and keeps the CLI estimate', () => {
    const verdict = replay('success-text');
    expect(verdict.usage).toEqual({
      inputTokens: 1200,
      outputTokens: 80,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    });
    expect(verdict.costUsd).toBe(0.0048);
    expect(verdict.cliCostUsd).toBeCloseTo(0.0048, 6);
    expect(verdict.resultText).toBe('The change looks correct.');
    expect(verdict.sessionId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reads usage from modelUsage when the budget ran out (result.usage is zero there)', () => {
    const verdict = replay('max-budget');
    expect(verdict.usage).toMatchObject({ inputTokens: 50_000, outputTokens: 10 });
    expect(verdict.costUsd).toBe(0.15015);
  });

  it('carries the reset time of a rejected subscription window', () => {
    const verdict = replay('quota-rejected-oauth');
    expect(verdict.resetsAt).toBeInstanceOf(Date);
    expect(verdict.resetsAt!.getTime()).toBeGreaterThan(Date.parse('2026-01-01'));
    expect(verdict.retryable).toBe(true);
  });

  it('reports a quota warning on a successful run', () => {
    expect(replay('quota-warning-oauth').quotaWarning).toMatchObject({
      status: 'allowed_warning',
      utilization: 0.92,
    });
  });

  it('stops a long rate limit early with its retry delay', () => {
    const state = new ClaudeStreamState();
    const early = state.consume({
      type: 'system',
      subtype: 'api_retry',
      error: 'rate_limit',
      error_status: 429,
      retry_delay_ms: 60_000,
    });
    expect(early).toEqual({
      outcome: 'rate_limited',
      source: 'event',
      signal: 'api_retry',
      field: 'retry_delay_ms',
      value: 60_000,
      retryAfterMs: 60_000,
    });
    expect(
      state.consume({ type: 'system', subtype: 'api_retry', error: 'rate_limit', retry_delay_ms: 1000 }),
    ).toBeUndefined();
    expect(
      classify(state, { exitCode: null, signal: 'SIGTERM', stderrTail: '' }, { kind: 'early', stop: early! }),
    ).toMatchObject({
      outcome: 'rate_limited',
      retryAfterMs: 60_000,
    });
  });

  it('names supervisor-side stops', () => {
    const state = new ClaudeStreamState();
    const facts = { exitCode: null, signal: 'SIGTERM', stderrTail: '' };
    expect(classify(state, facts, { kind: 'wall_clock', limitMs: 60_000 }).outcome).toBe('timed_out');
    expect(classify(state, facts, { kind: 'budget', limitUsd: 1, spentUsd: 1.2 }).outcome).toBe(
      'budget_exceeded',
    );
    expect(classify(state, facts, { kind: 'cancel' }).outcome).toBe('cancelled');
    expect(classify(state, { ...facts, spawnError: 'ENOENT' }).outcome).toBe('infra_error');
    expect(classify(state, { exitCode: 1, signal: null, stderrTail: 'boom' })).toMatchObject({
      outcome: 'infra_error',
      error: 'claude ended (exit code 1) without a result',
    });
  });

  it('tolerates unknown events, fields and non-objects', () => {
    const state = new ClaudeStreamState();
    expect(state.consume({ type: 'something_new', whatever: 1 })).toBeUndefined();
    expect(state.consume('raw text')).toBeUndefined();
    expect(state.consume(null)).toBeUndefined();
  });

  it('tracks running tools between tool_use and tool_result', () => {
    const state = new ClaudeStreamState();
    state.consume({
      type: 'assistant',
      message: { content: [{ type: 'tool_use', id: 't1', name: 'Bash', input: {} }] },
    });
    expect(state.toolRunning).toBe(true);
    state.consume({
      type: 'user',
      message: { content: [{ type: 'tool_result', tool_use_id: 't1', content: 'ok' }] },
    });
    expect(state.toolRunning).toBe(false);
  });
});
