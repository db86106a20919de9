import { and, asc, desc, eq, inArray, isNull, lte, ne, or } from 'drizzle-orm';
import type { Queryable } from './database.ts';
import { type TaskRow, tasks } from './schema.ts';

/** Queries of batching (several tasks as items of one agent session); see docs/batching.md. */

/**
 * Locks and returns up to `limit` tasks that may join `lead`'s batch: same batch key, submitted by
 * one of `submitters`, queued (so never a retry: a task that failed in a batch runs its next
 * attempt alone), not asked to cancel, and due. SKIP LOCKED leaves out a task another worker is
 * starting right now; that worker finds its own way. Most urgent first, then oldest.
 */
export async function claimBatchCompanions(
  q: Queryable,
  lead: TaskRow,
  submitters: readonly string[],
  limit: number,
  now: Date,
): Promise<TaskRow[]> {
  if (!lead.batchKey || limit <= 0) return [];
  return q
    .select()
    .from(tasks)
    .where(
      and(
        eq(tasks.batchKey, lead.batchKey),
        inArray(tasks.submittedBy, [...submitters]),
        eq(tasks.status, 'queued'),
        ne(tasks.id, lead.id),
        isNull(tasks.cancelRequestedAt),
        or(isNull(tasks.runAfter), lte(tasks.runAfter, now)),
      ),
    )
    .orderBy(desc(tasks.priority), asc(tasks.createdAt), asc(tasks.id))
    .limit(limit)
    .for('update', { skipLocked: true });
}
