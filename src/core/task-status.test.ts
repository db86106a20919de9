import { describe, expect, it } from 'vitest';
import {
  eventsFrom,
  isTerminal,
  TASK_EVENTS,
  TASK_STATUSES,
  type TaskEvent,
  type TaskStatus,
  transition,
} from './task-status.ts';

/** The complete table of allowed transitions; every pair not listed here must be refused. */
const ALLOWED: Array<[TaskStatus, TaskEvent, TaskStatus]> = [
  ['waiting', 'release', 'queued'],
  ['waiting', 'fail', 'failed'],
  ['waiting', 'cancel', 'cancelled'],
  ['queued', 'start', 'running'],
  ['queued', 'park', 'parked'],
  ['queued', 'fail', 'failed'],
  ['queued', 'cancel', 'cancelled'],
  ['running', 'succeed', 'succeeded'],
  ['running', 'fail', 'failed'],
  ['running', 'schedule_retry', 'retrying'],
  ['running', 'park', 'parked'],
  ['running', 'cancel', 'cancelled'],
  ['retrying', 'start', 'running'],
  ['retrying', 'park', 'parked'],
  ['retrying', 'fail', 'failed'],
  ['retrying', 'cancel', 'cancelled'],
  ['parked', 'wake', 'queued'],
  ['parked', 'start', 'running'],
  ['parked', 'fail', 'failed'],
  ['parked', 'cancel', 'cancelled'],
  ['failed', 'manual_retry', 'queued'],
  ['cancelled', 'manual_retry', 'queued'],
  ['succeeded', 'follow_up', 'queued'],
  ['failed', 'follow_up', 'queued'],
];

describe('task state machine', () => {
  it.each(ALLOWED)('%s --%s--> %s', (from, event, to) => {
    expect(transition(from, event)).toEqual({ ok: true, to });
  });

  const forbidden = TASK_STATUSES.flatMap((from) =>
    TASK_EVENTS.filter((event) => !ALLOWED.some(([f, e]) => f === from && e === event)).map(
      (event) => [from, event] as const,
    ),
  );

  it.each(forbidden)('%s refuses %s', (from, event) => {
    const result = transition(from, event);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(`a task that is ${from}`);
  });

  it('covers every status/event pair exactly once', () => {
    expect(ALLOWED.length + forbidden.length).toBe(TASK_STATUSES.length * TASK_EVENTS.length);
  });

  it('says what is allowed instead', () => {
    const result = transition('succeeded', 'cancel');
    expect(result).toEqual({
      ok: false,
      reason: 'cannot cancel a task that is succeeded (allowed from succeeded: follow_up)',
    });
    expect(transition('cancelled', 'follow_up')).toEqual({
      ok: false,
      reason: 'cannot follow up a task that is cancelled (allowed from cancelled: manual_retry)',
    });
    expect(eventsFrom('failed')).toEqual(['manual_retry', 'follow_up']);
  });

  it('knows the terminal statuses', () => {
    expect(TASK_STATUSES.filter(isTerminal)).toEqual(['succeeded', 'failed', 'cancelled']);
  });
});
