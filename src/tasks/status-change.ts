import type { TaskEventMessage } from '../events/bus.ts';
import { GITHUB_ACTOR, queueGitHubUpdate } from '../github/github-queue.ts';
import type { TaskQueue } from '../queue/task-queue.ts';
import type { Tx } from '../store/database.ts';
import type { TaskRow } from '../store/schema.ts';
import { settleDependents } from './dependencies.ts';
import { recordStatus } from './status-events.ts';
import { closeFinishedSubmissions } from './submissions.ts';

/**
 * Everything a task's status change entails, in the transaction that made it: its status event and,
 * when the task has ended, the tasks waiting for it moved on and its batch submission closed if it
 * was the last, and a GitHub task's update queued. Every status change after submission goes through here, so no ending is missed.
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
  return [...events, ...settled.events];
}
