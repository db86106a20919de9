import type { TaskEventMessage } from '../events/bus.ts';
import type { Queryable } from '../store/database.ts';
import type { TaskRow } from '../store/schema.ts';
import * as store from '../store/task-store.ts';

/**
 * Stores a `status` event for the task's current status; returns it for publishing after commit,
 * with the facts metrics count it by (see TaskEventMessage.task).
 */
export async function recordStatus(tx: Queryable, task: TaskRow, at: Date): Promise<TaskEventMessage[]> {
  const stored = await store.insertEvents(tx, [
    {
      taskId: task.id,
      attemptId: null,
      type: 'status',
      data: { status: task.status, outcome: task.outcome, error: task.error },
      createdAt: at,
    },
  ]);
  // A task's first status event is stored in the transaction that created it, at the same time.
  const submitted = task.createdAt.getTime() === at.getTime();
  return stored.map((message) => ({
    ...message,
    task: { type: task.type, outcome: task.outcome, parkReason: task.parkReason, submitted },
  }));
}
