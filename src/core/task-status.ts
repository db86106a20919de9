/**
 * The task lifecycle as a pure state machine. Every status change in the supervisor goes through
 * `transition`, so an impossible change (say, a cancelled task starting) is refused in one place.
 *
 *   queued ──start──▶ running ──succeed──▶ succeeded
 *     │                 │ ├──fail──────▶ failed ──manual_retry──▶ queued
 *     │                 │                  ▲ fail (its own budget spent before a start) from queued, retrying, parked
 *     │                 │ ├──schedule_retry──▶ retrying ──start──▶ running
 *     │                 │ └──park──────▶ parked ──wake──▶ queued
 *     └──cancel (from any non-terminal status)──▶ cancelled ──manual_retry──▶ queued
 *   succeeded, failed ──follow_up──▶ queued   (a person's message resumes the task's session)
 *
 *   waiting ──release──▶ queued      (every dependency succeeded)
 *     ├──fail──▶ failed              (a dependency failed or was cancelled: outcome dependency_failed)
 *     └──cancel──▶ cancelled
 */

export const TASK_STATUSES = [
  'waiting',
  'queued',
  'running',
  'retrying',
  'parked',
  'succeeded',
  'failed',
  'cancelled',
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['succeeded', 'failed', 'cancelled']);
export const isTerminal = (status: TaskStatus): boolean => TERMINAL_STATUSES.has(status);

export const TASK_EVENTS = [
  'release',
  'start',
  'succeed',
  'fail',
  'schedule_retry',
  'park',
  'wake',
  'cancel',
  'manual_retry',
  'follow_up',
] as const;
export type TaskEvent = (typeof TASK_EVENTS)[number];

const TRANSITIONS: Record<TaskStatus, Partial<Record<TaskEvent, TaskStatus>>> = {
  // A task with unfinished dependencies has no queue job until they settle (src/tasks/dependencies.ts).
  waiting: { release: 'queued', fail: 'failed', cancel: 'cancelled' },
  // A task whose own budget (max_cost_usd, max_duration_seconds) is spent fails before it starts again.
  queued: { start: 'running', park: 'parked', fail: 'failed', cancel: 'cancelled' },
  // A running task is parked when its agent runs out of quota mid-run and no other agent can take it;
  // `schedule_retry` also covers an attempt interrupted by a crash or a shutdown.
  running: {
    succeed: 'succeeded',
    fail: 'failed',
    schedule_retry: 'retrying',
    park: 'parked',
    cancel: 'cancelled',
  },
  retrying: { start: 'running', park: 'parked', fail: 'failed', cancel: 'cancelled' },
  parked: { wake: 'queued', start: 'running', fail: 'failed', cancel: 'cancelled' },
  succeeded: { follow_up: 'queued' },
  failed: { manual_retry: 'queued', follow_up: 'queued' },
  cancelled: { manual_retry: 'queued' },
};

export type TransitionResult = { ok: true; to: TaskStatus } | { ok: false; reason: string };

/** The status after `event`, or why `event` is not allowed from `from`. */
export function transition(from: TaskStatus, event: TaskEvent): TransitionResult {
  const to = TRANSITIONS[from][event];
  if (to) return { ok: true, to };
  const allowed = eventsFrom(from);
  const hint = allowed.length ? `allowed from ${from}: ${allowed.join(', ')}` : `${from} is final`;
  return { ok: false, reason: `cannot ${event.replace('_', ' ')} a task that is ${from} (${hint})` };
}

/** The status after `event`, for a change the caller has already made sure is allowed. */
export function transitionOrThrow(from: TaskStatus, event: TaskEvent): TaskStatus {
  const result = transition(from, event);
  if (!result.ok) throw new Error(result.reason);
  return result.to;
}

/** Events allowed from `status`. */
export function eventsFrom(status: TaskStatus): TaskEvent[] {
  return TASK_EVENTS.filter((event) => TRANSITIONS[status][event] !== undefined);
}
