import { isTerminal, type TaskStatus, transitionOrThrow } from '../core/task-status.ts';
import type { TaskEventMessage } from '../events/bus.ts';
import { GITHUB_ACTOR, queueGitHubUpdate } from '../github/github-queue.ts';
import type { TaskQueue } from '../queue/task-queue.ts';
import type { Tx } from '../store/database.ts';
import { oldestPendingMessage, recordReply, startRun } from '../store/message-store.ts';
import type { TaskRow } from '../store/schema.ts';
import { reopenSubmission } from '../store/submission-store.ts';
import { listAttempts, updateTask } from '../store/task-store.ts';
import { settleDependents } from './dependencies.ts';
import { recordStatus } from './status-events.ts';
import { closeFinishedSubmissions } from './submissions.ts';

/**
 * Everything a task's status change entails, in the transaction that made it: its status event, a
 * GitHub task's update queued and, when the task has ended, the tasks waiting for it moved on, its
 * batch submission closed if it was the last, and a message that waited for the run started (see
 * afterRun). Every status change after submission goes through here, so no ending is missed.
 * Returns the events to publish after the commit.
 */
export async function recordStatusChange(
  tx: Tx,
  task: TaskRow,
  queue: TaskQueue,
  now: Date,
): Promise<TaskEventMessage[]> {
  const events = await recordStatus(tx, task, now);
  const settled = await settleDependents(tx, task, queue, now);
  await closeFinishedSubmissions(tx, [task, ...settled.failed], now);
  // A task from GitHub shows its progress there: its tracking comment and check run follow it.
  if (task.submittedBy === GITHUB_ACTOR) await queueGitHubUpdate(tx, queue.boss, task.id);
  return [...events, ...settled.events, ...(await afterRun(tx, task, queue, now))];
}

/**
 * When a run ends: the message that started it keeps its reply (the run's final text and
 * outcome), and the oldest message that came while it ran starts the next run.
 */
async function afterRun(tx: Tx, task: TaskRow, queue: TaskQueue, now: Date): Promise<TaskEventMessage[]> {
  if (!isTerminal(task.status)) return [];
  await recordReply(tx, task.id, task.retryBaseAttempt, {
    text: task.resultText ?? task.question ?? task.error,
    outcome: task.outcome,
    at: now,
  });
  // A cancelled task's waiting messages wait for a retry; a task that never ran has no session.
  if (task.status === 'cancelled') return [];
  const pending = await oldestPendingMessage(tx, task.id);
  const attempts = pending ? (await listAttempts(tx, task.id)).length : 0;
  if (!pending || attempts === 0) return [];
  await startRun(tx, pending.id, {
    runBase: attempts,
    kind: task.status === 'succeeded' ? 'follow_up' : 'answer',
    earlier: task.resultText ?? task.question,
  });
  return (await runAgain(tx, queue, task, transitionOrThrow(task.status, 'follow_up'), attempts, now)).events;
}

/**
 * Queues a finished task for a new run, whose attempts are numbered after `runBase`: a retry, or
 * a message. Its outcome and result are cleared (earlier attempts and messages keep theirs).
 */
export async function runAgain(
  tx: Tx,
  queue: TaskQueue,
  task: TaskRow,
  to: TaskStatus,
  runBase: number,
  now: Date,
): Promise<{ task: TaskRow; events: TaskEventMessage[] }> {
  const jobId = await queue.dispatch(tx, task.id, { priority: task.priority });
  const updated = await updateTask(tx, task.id, {
    status: to,
    dispatchJobId: jobId,
    retryBaseAttempt: runBase,
    runAfter: null,
    outcome: null,
    error: null,
    question: null,
    resultText: null,
    result: null,
    cancelRequestedAt: null,
    // A new run: max_duration_seconds counts from its start, not from the first run's.
    startedAt: null,
    finishedAt: null,
    updatedAt: now,
  });
  // Its batch is open again: a new summary follows when the task ends again.
  if (task.submissionId) await reopenSubmission(tx, task.submissionId);
  return { task: updated, events: await recordStatusChange(tx, updated, queue, now) };
}
