import { and, asc, eq, or, sql } from 'drizzle-orm';
import type { Queryable } from './database.ts';
import { type TaskRow, tasks } from './schema.ts';

/**
 * Tasks waiting for a person, oldest wait first: those that stopped on a question (failed,
 * `needs_input`) and those parked because no enabled agent can run them (`no_agent`). `since` is
 * when the task entered that state (its last status event).
 */
export async function waitingForPeople(
  q: Queryable,
  limit: number,
): Promise<Array<{ task: TaskRow; since: Date }>> {
  // Spelled out: inside a select list drizzle leaves column names unqualified, and both tables have some.
  const since = sql<string>`(
    select max(e.created_at) from task_events e where e.task_id = "tasks"."id" and e.type = 'status'
  )`;
  const rows = await q
    .select({ task: tasks, since })
    .from(tasks)
    .where(
      or(
        and(eq(tasks.status, 'failed'), eq(tasks.outcome, 'needs_input')),
        and(eq(tasks.status, 'parked'), eq(tasks.parkReason, 'no_agent')),
      ),
    )
    .orderBy(asc(tasks.updatedAt), asc(tasks.id))
    .limit(limit);
  return rows
    .map((row) => ({ task: row.task, since: row.since ? new Date(row.since) : row.task.updatedAt }))
    .sort((a, b) => a.since.getTime() - b.since.getTime());
}
