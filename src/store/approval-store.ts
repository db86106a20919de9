import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Queryable } from './database.ts';
import { type ApprovalRow, type ApprovalStatus, approvals } from './schema.ts';

/** Tool calls waiting for a person (src/runner/people-channel.ts asks, task-service.ts decides). */

export async function insertApproval(q: Queryable, row: ApprovalRow): Promise<void> {
  await q.insert(approvals).values(row);
}

export async function getApproval(q: Queryable, id: string): Promise<ApprovalRow | undefined> {
  const [row] = await q.select().from(approvals).where(eq(approvals.id, id));
  return row;
}

/** A task's approvals, oldest first. */
export async function listApprovals(q: Queryable, taskId: string): Promise<ApprovalRow[]> {
  return q
    .select()
    .from(approvals)
    .where(eq(approvals.taskId, taskId))
    .orderBy(asc(approvals.requestedAt), asc(approvals.id));
}

/** The approvals still waiting for a person among these tasks, oldest first. */
export async function pendingApprovals(q: Queryable, taskIds?: string[]): Promise<ApprovalRow[]> {
  if (taskIds?.length === 0) return [];
  return q
    .select()
    .from(approvals)
    .where(and(eq(approvals.status, 'pending'), taskIds ? inArray(approvals.taskId, taskIds) : undefined))
    .orderBy(asc(approvals.requestedAt), asc(approvals.id));
}

/**
 * Closes a pending approval; the first decision wins (a person's answer against the timeout, two
 * people at once). Returns the row as closed, or nothing when it was no longer pending.
 */
export async function closeApproval(
  q: Queryable,
  id: string,
  close: { status: Exclude<ApprovalStatus, 'pending'>; decidedBy: string; note: string | null; at: Date },
): Promise<ApprovalRow | undefined> {
  const [row] = await q
    .update(approvals)
    .set({ status: close.status, decidedBy: close.decidedBy, note: close.note, decidedAt: close.at })
    .where(and(eq(approvals.id, id), eq(approvals.status, 'pending')))
    .returning();
  return row;
}

/** Withdraws what an attempt that ended (or was lost with its worker) still waited for. */
export async function withdrawApprovals(q: Queryable, attemptId: string, at: Date): Promise<ApprovalRow[]> {
  return q
    .update(approvals)
    .set({ status: 'withdrawn', decidedBy: 'system', decidedAt: at })
    .where(and(eq(approvals.attemptId, attemptId), eq(approvals.status, 'pending')))
    .returning();
}
