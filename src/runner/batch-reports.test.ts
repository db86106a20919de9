import { describe, expect, it } from 'vitest';
import type { AgentRunReport } from '../agents/driver.ts';
import { batchReports } from './batch-reports.ts';

const session = (extra: Partial<AgentRunReport> = {}): AgentRunReport => ({
  outcome: 'succeeded',
  evidence: { source: 'event', signal: 'result' },
  usage: { inputTokens: 9001, outputTokens: 300, cacheReadTokens: 0, cacheWriteTokens: 0 },
  costUsd: 0.03,
  cliCostUsd: 0.031,
  apiRequests: 1,
  sessionId: 's-1',
  resultText: '{"results":[…]}',
  result: {
    structured_output: {
      results: [
        { item: 2, summary: 'two' },
        { item: 1, summary: 'one' },
      ],
    },
  },
  ...extra,
});

describe('one report per task of a batched session', () => {
  it('gives each task its own item and an equal share of the spend', () => {
    const [one, two, three] = batchReports(session(), [false, false, false], false);
    expect(one).toMatchObject({
      outcome: 'succeeded',
      result: { structured_output: { summary: 'one' } },
      resultText: '{"summary":"one"}',
      usage: { inputTokens: 3001, outputTokens: 100 },
      sessionId: 's-1',
    });
    expect(one!.cliCostUsd).toBeUndefined();
    expect(two).toMatchObject({ outcome: 'succeeded', result: { structured_output: { summary: 'two' } } });
    // The third item was left out: only that task has no result (which is retried), and says why.
    expect(three).toMatchObject({
      outcome: 'no_result',
      error: 'the batched agent session gave no result for item 3 of 3',
      evidence: { source: 'supervisor', signal: 'batch_item_missing' },
      usage: { inputTokens: 3000 },
    });
    expect(three!.result).toBeUndefined();
    expect([one, two, three].reduce((sum, r) => sum + r!.costUsd, 0)).toBeCloseTo(0.03, 12);
  });

  it('ends every task the way a failed session ended, without results', () => {
    const reports = batchReports(
      session({ outcome: 'rate_limited', error: '429', retryAfterMs: 5000, result: undefined }),
      [false, false],
      false,
    );
    for (const report of reports) {
      expect(report).toMatchObject({ outcome: 'rate_limited', error: '429', retryAfterMs: 5000 });
      expect(report.result).toBeUndefined();
    }
  });

  it('ends a task cancelled during the session as cancelled, its share kept and its result dropped', () => {
    const [one, two] = batchReports(session(), [false, true], false);
    expect(one).toMatchObject({ outcome: 'succeeded' });
    expect(two).toMatchObject({
      outcome: 'cancelled',
      evidence: { signal: 'cancel' },
      usage: { inputTokens: 4500 },
    });
    expect(two!.result).toBeUndefined();
    // A shutdown is not a cancel: the task is handed back like the others.
    const [, handedBack] = batchReports(session({ outcome: 'infra_error' }), [false, true], true);
    expect(handedBack).toMatchObject({ outcome: 'infra_error' });
  });
});
