import type { TaskEventMessage } from '../events/bus.ts';
import type { Queryable } from '../store/database.ts';
import type { TaskRow } from '../store/schema.ts';
import * as store from '../store/task-store.ts';

/** Stores a `status` event for the task's current status; returns it for publishing after commit. */
export async function recordStatus(tx: Queryable, task: TaskRow, at: Date): Promise<TaskEventMessage[]> {
  return store.insertEvents(tx, [
    {
      taskId: task.id,
      attemptId: null,
      type: 'status',
      data: { status: task.status, outcome: task.outcome, error: task.error },
      createdAt: at,
    },
  ]);
}
