import { appendAudit } from '../audit/audit-log.ts';
import { dependencyVerdict } from '../core/dag.ts';
import { isTerminal, type TaskEvent, type TaskStatus, transition } from '../core/task-status.ts';
import type { TaskEventMessage } from '../events/bus.ts';
import type { TaskQueue } from '../queue/task-queue.ts';
import type { Tx } from '../store/database.ts';
import type { TaskRow } from '../store/schema.ts';
import * as store from '../store/task-store.ts';
import { recordStatus } from './status-events.ts';

/**
 * Moves on the waiting tasks that depend on `ended`, in the transaction that recorded its end (so a
 * dependent is never left waiting on a task that has finished). A dependent whose dependencies have
 * all succeeded is queued with a new job; one with a failed or cancelled dependency fails with
 * outcome `dependency_failed`, and so, in turn, do its own waiting dependents. Does nothing while
 * `ended` has not ended. Returns the status events to publish after the commit, and the dependents
 * it failed (which have ended too).
 *
 * Each dependent is locked before its dependencies are read: two dependencies ending at once then
 * take turns on it, and the second sees the first's committed status, so one of them releases it.
 */
export async function settleDependents(
  tx: Tx,
  ended: TaskRow,
  queue: TaskQueue,
  now: Date,
): Promise<{ events: TaskEventMessage[]; failed: TaskRow[] }> {
  const events: TaskEventMessage[] = [];
  const failedDependents: TaskRow[] = [];
  if (!isTerminal(ended.status)) return { events, failed: failedDependents };
  for (const id of await store.waitingDependentsOf(tx, ended.id)) {
    const task = await store.getTask(tx, id, { lock: true });
    if (task?.status !== 'waiting') continue; // settled by another transaction meanwhile
    const verdict = dependencyVerdict(await store.dependencyStatuses(tx, id));
    if (verdict.kind === 'ready') {
      // A `run_after` still ahead holds the job back, as it would have at submission.
      const startAfter = task.runAfter && task.runAfter > now ? task.runAfter : undefined;
      const jobId = await queue.dispatch(tx, id, {
        priority: task.priority,
        ...(startAfter ? { startAfter } : {}),
      });
      const queued = await store.updateTask(tx, id, {
        status: next(task.status, 'release'),
        dispatchJobId: jobId,
        updatedAt: now,
      });
      events.push(...(await recordStatus(tx, queued, now)));
    } else if (verdict.kind === 'fail') {
      const { dependency } = verdict;
      const error = `dependency ${dependency.id} ${dependency.status}, so this task never ran; retry that task, then this one`;
      const failed = await store.updateTask(tx, id, {
        status: next(task.status, 'fail'),
        outcome: 'dependency_failed',
        error,
        finishedAt: now,
        updatedAt: now,
      });
      // `task.failed` in the audit trail is what alerts are raised from (src/notify).
      await appendAudit(tx, {
        at: now,
        actor: 'supervisor',
        action: 'task.failed',
        taskId: id,
        details: {
          type: failed.type,
          repository: failed.repository,
          outcome: failed.outcome,
          error,
          dependency: { id: dependency.id, status: dependency.status },
        },
      });
      events.push(...(await recordStatus(tx, failed, now)));
      const further = await settleDependents(tx, failed, queue, now);
      events.push(...further.events);
      failedDependents.push(failed, ...further.failed);
    }
  }
  return { events, failed: failedDependents };
}

/** The status `event` leads to; the callers only ever move waiting tasks, which allows both events. */
function next(from: TaskStatus, event: TaskEvent): TaskStatus {
  const result = transition(from, event);
  if (!result.ok) throw new Error(`dependency release: ${result.reason}`);
  return result.to;
}
