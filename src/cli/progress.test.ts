import { describe, expect, it } from 'vitest';
import type { TaskView } from '../api/schemas.ts';
import {
  fitToWidth,
  formatElapsed,
  progressLine,
  SPINNER_FRAMES,
  taskDuration,
  taskSummary,
} from './progress.ts';

function task(overrides: Partial<TaskView> = {}): TaskView {
  return {
    id: 'tsk_1',
    type: 'CODE_ANALYSIS',
    status: 'succeeded',
    priority: 5,
    repository: 'o/r',
    payload: {},
    outcome: 'succeeded',
    error: null,
    result: { text: 'done', data: null },
    attempts: { count: 1, max: 3 },
    budget: { max_cost_usd: null, max_duration_seconds: null },
    agent_cli: null,
    parked_until: null,
    park_reason: null,
    cost: {
      usd: 0.01234,
      input_tokens: 1200,
      output_tokens: 340,
      cache_read_tokens: 0,
      cache_write_tokens: 0,
    },
    submitted_by: null,
    run_after: null,
    cancel_requested_at: null,
    created_at: '2025-01-01T10:00:00.000Z',
    updated_at: '2025-01-01T10:01:05.000Z',
    started_at: '2025-01-01T10:00:02.000Z',
    finished_at: '2025-01-01T10:01:05.000Z',
    ...overrides,
  } as TaskView;
}

describe('formatElapsed', () => {
  it('picks a unit that fits', () => {
    expect(formatElapsed(850)).toBe('850ms');
    expect(formatElapsed(4_230)).toBe('4.2s');
    expect(formatElapsed(65_000)).toBe('1m 05s');
    expect(formatElapsed(2 * 3_600_000 + 3 * 60_000 + 59_000)).toBe('2h 03m');
  });

  it('counts clock skew as zero', () => {
    expect(formatElapsed(-5_000)).toBe('0ms');
  });
});

describe('progressLine', () => {
  const state = { status: 'running', attempt: 2, lastEvent: 'echo.started', since: 1_000 };

  it('shows frame, status, elapsed time, attempt and the newest event', () => {
    expect(progressLine(state, 13_000, 0)).toBe(
      `${SPINNER_FRAMES[0]} running · 12.0s · attempt 2 · last echo.started`,
    );
  });

  it('cycles through the frames', () => {
    expect(progressLine(state, 1_000, SPINNER_FRAMES.length + 3).startsWith(SPINNER_FRAMES[3])).toBe(true);
  });

  it('says when no attempt has started and leaves out a missing event', () => {
    expect(progressLine({ status: 'queued', attempt: 0, since: 0 }, 500, 1)).toBe(
      `${SPINNER_FRAMES[1]} queued · 500ms · no attempt yet`,
    );
  });

  it('never wraps a narrow terminal', () => {
    const line = progressLine(state, 13_000, 0, 20);
    expect([...line]).toHaveLength(19);
    expect(line.endsWith('…')).toBe(true);
  });
});

describe('fitToWidth', () => {
  it('leaves short lines and unknown widths alone', () => {
    expect(fitToWidth('abc', 10)).toBe('abc');
    expect(fitToWidth('abc', undefined)).toBe('abc');
  });

  it('keeps one column free for the cursor', () => {
    expect(fitToWidth('abcdef', 5)).toBe('abc…');
  });
});

describe('taskDuration', () => {
  it('runs from the first start to the finish', () => {
    expect(taskDuration(task())).toBe(63_000);
  });

  it('falls back to creation and last update', () => {
    expect(taskDuration(task({ started_at: null, finished_at: null }))).toBe(65_000);
  });
});

describe('taskSummary', () => {
  it('gives status, outcome, attempts, duration, cost and tokens', () => {
    expect(taskSummary(task())).toBe(
      [
        '── tsk_1 ──',
        'status     succeeded (outcome: succeeded)',
        'attempts   1 (budget 3)',
        'duration   1m 03s',
        'cost       $0.0123   tokens in 1200 / out 340',
      ].join('\n'),
    );
  });

  it('adds cache tokens when there are some', () => {
    const cost = { usd: 0, input_tokens: 1, output_tokens: 2, cache_read_tokens: 30, cache_write_tokens: 4 };
    expect(taskSummary(task({ cost }))).toContain('tokens in 1 / out 2 (cache read 30 / write 4)');
  });

  it('names the branch and diff stats of a mutating task', () => {
    const workspace = {
      branch: 'supervisor/tsk_1',
      files_changed: 1,
      insertions: 12,
      deletions: 4,
      commits: [{ sha: 'a', subject: 'fix' }],
      diff: '…',
      diff_truncated: false,
    };
    const summary = taskSummary(task({ type: 'BUG_FIX', result: { text: 'fixed', data: { workspace } } }));
    expect(summary).toContain('branch     supervisor/tsk_1   1 file changed, +12, -4, 1 commit');
  });

  it('shows a failure’s outcome and error', () => {
    const summary = taskSummary(
      task({ status: 'failed', outcome: 'timed_out', error: 'boom', result: null }),
    );
    expect(summary).toContain('status     failed (outcome: timed_out)');
    expect(summary.split('\n').at(-1)).toBe('error      boom');
    expect(summary).not.toContain('branch');
  });
});
