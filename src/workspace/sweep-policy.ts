import { isTerminal } from '../core/task-status.ts';
import { isMutatingTaskType, type TaskType } from '../core/task-types.ts';
import type { Db } from '../store/database.ts';
import { existingTaskIds, getAttempt, getTask } from '../store/task-store.ts';
import type { SweepPolicy } from './workspace-manager.ts';

/** Directory names that are not a task's or an attempt's are never ours to remove. */
const ID = /^[0-9a-f-]{36}$/;

/**
 * What a worker's sweeper may remove, from the database. A read-only attempt's worktree goes once
 * the attempt is over; a mutating one's stays for `retentionMs` after it ended (to inspect, or
 * for the branch's last state), and a task's directory goes with its last attempt's. What the
 * database does not know (a task or attempt deleted by TASK_RETENTION_DAYS) goes at once.
 *
 * With `everyType`, a finished read-only task's directory is kept for `retentionMs` too: agent
 * state (the session transcript) is what a follow-up message resumes, whatever the task's type.
 */
export function sweepPolicy(
  db: Db,
  now: () => Date,
  retentionMs: number,
  options: { everyType?: boolean } = {},
): SweepPolicy {
  const recent = (at: Date | null) => (at?.getTime() ?? 0) > now().getTime() - retentionMs;
  const kept = (type: TaskType) => options.everyType === true || isMutatingTaskType(type);
  return {
    async keepTask(taskId) {
      if (!ID.test(taskId)) return true;
      const task = await getTask(db, taskId);
      if (!task) return false;
      if (!isTerminal(task.status)) return true;
      return kept(task.type) && recent(task.finishedAt);
    },
    async keepAttempt(taskId, attemptId) {
      if (!ID.test(attemptId)) return true;
      const [task, attempt] = await Promise.all([getTask(db, taskId), getAttempt(db, attemptId)]);
      if (!task || !attempt) return false;
      if (!attempt.endedAt) return true;
      return kept(task.type) && recent(attempt.endedAt);
    },
    existingTasks: (ids) =>
      existingTaskIds(
        db,
        ids.filter((id) => ID.test(id)),
      ),
  };
}
