import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Queryable } from './database.ts';
import { taskAttempts, tasks } from './schema.ts';

/**
 * Attempt leases: a running attempt belongs to its worker for as long as the worker renews the
 * attempt's lease. An attempt whose lease has expired is **lost** once another process has seen it
 * expired and a whole lease period has passed since without a renewal: a worker that was only cut
 * off from the database (an outage, a stall) renews as soon as it can, so it is never declared
 * lost for that. The rule lives in `lostCondition`, used both to find tasks to recover and to
 * confirm each one under its lock.
 */

/** Renews the leases of open attempts; returns the ids renewed (an attempt closed elsewhere is not). */
export async function renewLeases(q: Queryable, attemptIds: string[], until: Date): Promise<string[]> {
  if (attemptIds.length === 0) return [];
  const rows = await q
    .update(taskAttempts)
    .set({ leaseExpiresAt: until, leaseLostAt: null })
    .where(and(inArray(taskAttempts.id, attemptIds), isNull(taskAttempts.endedAt)))
    .returning({ id: taskAttempts.id });
  return rows.map((row) => row.id);
}

/** Notes, on open attempts whose lease has expired, the first time someone saw it so. */
export async function markExpiredLeases(q: Queryable, now: Date, leaseMs: number): Promise<void> {
  await q
    .update(taskAttempts)
    .set({ leaseLostAt: now })
    .where(
      and(
        isNull(taskAttempts.endedAt),
        isNull(taskAttempts.leaseLostAt),
        sql`${expiresAt(leaseMs)} < ${now}`,
      ),
    );
}

/**
 * Running tasks none of whose open attempts is held any more (every one is lost, or there is none
 * at all), optionally just `taskId`. With `everyOpenAttempt`, every open attempt counts as lost:
 * for a start-up that knows the previous owner of the database is gone.
 */
export async function tasksToRecover(
  q: Queryable,
  now: Date,
  leaseMs: number,
  options: { taskId?: string; everyOpenAttempt?: boolean } = {},
): Promise<string[]> {
  const held = options.everyOpenAttempt ? sql`false` : sql`not (${lostCondition(now, leaseMs)})`;
  const rows = await q
    .select({ id: tasks.id })
    .from(tasks)
    .where(
      and(
        eq(tasks.status, 'running'),
        options.taskId ? eq(tasks.id, options.taskId) : undefined,
        sql`not exists (select 1 from ${taskAttempts} where ${taskAttempts.taskId} = ${tasks.id} and ${taskAttempts.endedAt} is null and ${held})`,
      ),
    );
  return rows.map((row) => row.id);
}

/** When an attempt's lease runs out; an attempt from before leases existed had one from its start. */
function expiresAt(leaseMs: number) {
  return sql`coalesce(${taskAttempts.leaseExpiresAt}, ${taskAttempts.startedAt} + ${`${leaseMs} milliseconds`}::interval)`;
}

function lostCondition(now: Date, leaseMs: number) {
  const since = new Date(now.getTime() - leaseMs);
  return sql`${expiresAt(leaseMs)} < ${now} and ${taskAttempts.leaseLostAt} is not null and ${taskAttempts.leaseLostAt} <= ${since}`;
}
