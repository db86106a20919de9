import { and, eq, isNull, lt, sql } from 'drizzle-orm';
import type { TaskOutcome } from '../core/outcome.ts';
import type { TaskStatus } from '../core/task-status.ts';
import type { Queryable } from './database.ts';
import { type SubmissionRow, submissions, taskAttempts, tasks } from './schema.ts';

/** Queries on batch submissions (POST /tasks/batch). */

export async function insertSubmission(q: Queryable, row: typeof submissions.$inferInsert): Promise<void> {
  await q.insert(submissions).values(row);
}

/** The submission, locked until the transaction ends, if it has not been closed yet. */
export async function lockOpenSubmission(q: Queryable, id: string): Promise<SubmissionRow | undefined> {
  const [row] = await q
    .select()
    .from(submissions)
    .where(and(eq(submissions.id, id), isNull(submissions.finishedAt)))
    .for('update');
  return row;
}

export interface SubmissionTaskState {
  id: string;
  status: TaskStatus;
  outcome: TaskOutcome | null;
  costUsd: number;
}

/** Every task of the submission with its status, outcome and spend over all its attempts. */
export async function submissionTasks(q: Queryable, id: string): Promise<SubmissionTaskState[]> {
  const rows = await q
    .select({
      id: tasks.id,
      status: tasks.status,
      outcome: tasks.outcome,
      costUsd: sql<number>`coalesce(sum(${taskAttempts.costUsd}), 0)::float8`,
    })
    .from(tasks)
    .leftJoin(taskAttempts, eq(taskAttempts.taskId, tasks.id))
    .where(eq(tasks.submissionId, id))
    .groupBy(tasks.id)
    .orderBy(tasks.createdAt, tasks.id);
  return rows.map((row) => ({ ...row, costUsd: Number(row.costUsd) }));
}

export async function closeSubmission(q: Queryable, id: string, at: Date): Promise<void> {
  await q.update(submissions).set({ finishedAt: at }).where(eq(submissions.id, id));
}

/** Opens a closed submission again (a task of it was retried), so it is summed up once more. */
export async function reopenSubmission(q: Queryable, id: string): Promise<void> {
  await q.update(submissions).set({ finishedAt: null }).where(eq(submissions.id, id));
}

/** Deletes submissions created before `before` whose tasks retention has already deleted. */
export async function deleteEmptySubmissions(q: Queryable, before: Date): Promise<number> {
  const deleted = await q
    .delete(submissions)
    .where(
      and(
        lt(submissions.createdAt, before),
        sql`not exists (select 1 from ${tasks} where ${tasks.submissionId} = ${submissions.id})`,
      ),
    )
    .returning({ id: submissions.id });
  return deleted.length;
}
