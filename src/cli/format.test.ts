import { describe, expect, it } from 'vitest';
import type { TaskView } from '../api/schemas.ts';
import { taskDetails } from './format.ts';

const task = (extra: Partial<TaskView>): TaskView => ({
  id: '00000000-0000-4000-8000-000000000001',
  type: 'REFACTOR',
  status: 'failed',
  priority: 5,
  repository: 'acme/app',
  payload: {},
  depends_on: [],
  submission_id: null,
  batch: false,
  outcome: null,
  error: null,
  question: null,
  awaiting_approval: null,
  result: null,
  attempts: { count: 1, max: 3 },
  budget: { max_cost_usd: null, max_duration_seconds: null },
  agent_cli: null,
  parked_until: null,
  park_reason: null,
  park_detail: null,
  cost: { usd: 0, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 },
  submitted_by: 'local',
  github: null,
  run_after: null,
  cancel_requested_at: null,
  created_at: '2026-12-06T10:00:00.000Z',
  updated_at: '2026-12-06T10:00:00.000Z',
  started_at: null,
  finished_at: null,
  ...extra,
});

describe('taskDetails', () => {
  it('shows the question a task that needs input asked, every line under the value column', () => {
    const text = taskDetails(
      task({ outcome: 'needs_input', question: 'Which module first?\nOr both at once?' }),
      [],
    );
    expect(text).toContain('question   Which module first?\n           Or both at once?');
  });

  it('says why a task waits and until when', () => {
    const text = taskDetails(
      task({
        status: 'parked',
        park_reason: 'quota',
        parked_until: '2026-12-06T11:00:00.000Z',
        park_detail: 'out of quota: no agent can take it before 2026-12-06T11:00:00.000Z',
      }),
      [],
    );
    expect(text).toContain('waiting    quota until 2026-12-06T11:00:00.000Z: out of quota');
    expect(taskDetails(task({ status: 'queued' }), [])).not.toContain('waiting');
  });

  it('says which agent CLI a task prefers, when it does', () => {
    expect(taskDetails(task({ agent_cli: 'gemini' }), [])).toContain(
      'type       REFACTOR   priority 5   prefers gemini',
    );
    expect(taskDetails(task({}), [])).not.toContain('prefers');
  });
});
