import { and, asc, eq, or, sql } from 'drizzle-orm';
import type { Queryable } from './database.ts';
import { type ApprovalRow, approvals, type TaskRow, tasks } from './schema.ts';

export const INBOX_KINDS = ['question', 'approval', 'no_agent'] as const;
export type InboxKind = (typeof INBOX_KINDS)[number];

/** Something waiting for a person; `since` is when it started waiting. */
export interface InboxItem {
  kind: InboxKind;
  task: TaskRow;
  since: Date;
  /** The tool call waiting for a decision (kind `approval`). */
  approval?: ApprovalRow;
}

/**
 * What waits for a person, oldest wait first: tasks that stopped on a question (failed,
 * `needs_input`; since their last status event), tool calls waiting for approval (since they were
 * asked), and tasks parked because no enabled agent can run them (`no_agent`).
 */
export async function waitingForPeople(q: Queryable, limit: number): Promise<InboxItem[]> {
  // Spelled out: inside a select list drizzle leaves column names unqualified, and both tables have some.
  const since = sql<string>`(
    select max(e.created_at) from task_events e where e.task_id = "tasks"."id" and e.type = 'status'
  )`;
  const [taskRows, approvalRows] = await Promise.all([
    q
      .select({ task: tasks, since })
      .from(tasks)
      .where(
        or(
          and(eq(tasks.status, 'failed'), eq(tasks.outcome, 'needs_input')),
          and(eq(tasks.status, 'parked'), eq(tasks.parkReason, 'no_agent')),
        ),
      )
      .orderBy(asc(tasks.updatedAt), asc(tasks.id))
      .limit(limit),
    q
      .select({ task: tasks, approval: approvals })
      .from(approvals)
      .innerJoin(tasks, eq(tasks.id, approvals.taskId))
      .where(eq(approvals.status, 'pending'))
      .orderBy(asc(approvals.requestedAt), asc(approvals.id))
      .limit(limit),
  ]);
  const items: InboxItem[] = [
    ...taskRows.map(({ task, since }) => ({
      kind: task.status === 'parked' ? ('no_agent' as const) : ('question' as const),
      task,
      since: since ? new Date(since) : task.updatedAt,
    })),
    ...approvalRows.map(({ task, approval }) => ({
      kind: 'approval' as const,
      task,
      since: approval.requestedAt,
      approval,
    })),
  ];
  return items.sort((a, b) => a.since.getTime() - b.since.getTime()).slice(0, limit);
}
