import { describe, expect, it } from 'vitest';
import { alertFromAudit } from './alerts.ts';
import { dueGroups, notificationFor, type PendingAlert } from './grouping.ts';

const t0 = new Date('2026-11-24T10:00:00Z');
const failure = (id: number, secondsLater: number, outcome = 'timeout'): PendingAlert => ({
  id,
  ...alertFromAudit({
    action: 'task.failed',
    at: new Date(t0.getTime() + secondsLater * 1000),
    taskId: `task-${id}`,
    agentId: null,
    details: { type: 'BUG_FIX', repository: 'acme/api', outcome, error: 'the agent stalled' },
  })!,
});

describe('grouping alerts', () => {
  it('holds a group until its first alert is a window old, then sends it as one message with a count', () => {
    const storm = Array.from({ length: 100 }, (_, i) =>
      failure(i + 1, i * 0.5, i % 3 ? 'timeout' : 'auth_failed'),
    );
    expect(dueGroups(storm, new Date(t0.getTime() + 59_000), 60_000)).toEqual([]);
    const due = dueGroups(storm, new Date(t0.getTime() + 60_000), 60_000);
    expect(due).toHaveLength(1);
    const message = notificationFor(due[0]!, { id: 'n-1', now: t0, publicUrl: 'https://sv.example/' });
    expect(message).toMatchObject({
      kind: 'task_failed',
      count: 100,
      title: '100 tasks failed after their retries',
      why: 'Outcomes: timeout ×66, auth_failed ×34.',
      link: 'https://sv.example/api/v1/tasks?status=failed',
    });
    expect(message.what).toContain('task-1 (auth_failed), task-2 (timeout)');
    expect(message.what).toContain('and 95 more');
  });

  it('keeps different kinds and keys apart, and tells a single failure in full', () => {
    const disabled: PendingAlert = {
      id: 200,
      ...alertFromAudit({
        action: 'agent.disabled',
        at: t0,
        taskId: null,
        agentId: 'claude-2',
        details: { reason: 'Invalid API key' },
      })!,
    };
    const groups = dueGroups([failure(1, 0), disabled], new Date(t0.getTime() + 60_000), 60_000);
    expect(groups.map((group) => group[0]!.kind)).toEqual(['task_failed', 'agent_disabled']);
    const single = notificationFor(groups[0]!, { id: 'n-2', now: t0 });
    expect(single).toMatchObject({
      title: 'Task task-1 failed (timeout)',
      why: 'the agent stalled',
      subject: { taskId: 'task-1' },
      count: 1,
    });
    expect(single.action).toContain('supervisor retry task-1');
    expect(notificationFor(groups[1]!, { id: 'n-3', now: t0 })).toMatchObject({
      title: 'Agent claude-2 disabled',
      why: 'Invalid API key',
      severity: 'critical',
    });
  });

  it('ignores audit records that are not alerts', () => {
    expect(
      alertFromAudit({ action: 'task.submitted', at: t0, taskId: 'x', agentId: null, details: {} }),
    ).toBeUndefined();
  });
});

describe('alerts for tasks that wait', () => {
  const alert = (id: number, action: string, details: Record<string, unknown>): PendingAlert => ({
    id,
    ...alertFromAudit({ action, at: t0, taskId: `task-${id}`, agentId: null, details })!,
  });

  it('says a task parked for want of an agent is parked, never failed, and what to do', () => {
    const reason = 'no enabled agent can run it (claude-1: disabled): fix a disabled agent’s credential';
    const message = notificationFor([alert(1, 'pool.no_agent', { because: 'no_agent', reason })], {
      id: 'n-1',
      now: t0,
    });
    expect(message).toMatchObject({ kind: 'no_agent', why: reason });
    expect(message.title).toContain('parked');
    expect(message.title).not.toContain('fail');
    expect(message.what).toContain('none has failed for this');
    expect(message.action).toContain('supervisor agents resume');
  });

  it('quotes the question of a task that needs input', () => {
    const message = notificationFor(
      [alert(2, 'task.failed', { type: 'REFACTOR', outcome: 'needs_input', question: 'Split util.js?' })],
      { id: 'n-2', now: t0 },
    );
    expect(message).toMatchObject({
      kind: 'task_needs_input',
      what: 'The agent stopped to ask: Split util.js?',
    });
  });
});
