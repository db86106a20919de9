import { and, asc, desc, eq, gt, gte, inArray, isNull, lt, notInArray, or, sql } from 'drizzle-orm';
import { CODEX_TOOL_EVENTS } from '../audit/tool-summary.ts';
import type { TokenUsage } from '../core/outcome.ts';
import { type TaskStatus, TERMINAL_STATUSES } from '../core/task-status.ts';
import type { TaskType } from '../core/task-types.ts';
import type { CursorPosition } from './cursor.ts';
import type { Queryable } from './database.ts';
import {
  type AttemptRow,
  type TaskEventRow,
  type TaskRow,
  taskAttempts,
  taskDependencies,
  taskEvents,
  tasks,
} from './schema.ts';
import { storable } from './storable.ts';

/** Queries on tasks, attempts and events. Each takes the database or a transaction to run on. */

export type NewTask = typeof tasks.$inferInsert;
export type NewAttempt = typeof taskAttempts.$inferInsert;
export type NewTaskEvent = typeof taskEvents.$inferInsert;

export interface TaskFilters {
  status?: TaskStatus[];
  type?: TaskType[];
  repository?: string;
  submissionId?: string;
  createdAfter?: Date;
  createdBefore?: Date;
}

export interface AttemptTotals {
  attempts: number;
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

export async function insertTask(q: Queryable, row: NewTask): Promise<TaskRow> {
  const [inserted] = await q.insert(tasks).values(row).returning();
  return inserted!;
}

/** The task, optionally locked against concurrent changes until the transaction ends. */
export async function getTask(
  q: Queryable,
  id: string,
  options: { lock?: boolean } = {},
): Promise<TaskRow | undefined> {
  const query = q.select().from(tasks).where(eq(tasks.id, id));
  const [row] = options.lock ? await query.for('update') : await query;
  return row;
}

export async function findTaskByIdempotencyKey(q: Queryable, key: string): Promise<TaskRow | undefined> {
  const [row] = await q.select().from(tasks).where(eq(tasks.idempotencyKey, key));
  return row;
}

/**
 * The newest task with this fingerprint created at or after `since` whose status is not one of
 * `excluded`. Served by the (fingerprint, created_at) index.
 */
export async function findRecentTaskByFingerprint(
  q: Queryable,
  fingerprint: string,
  since: Date,
  excluded: TaskStatus[],
): Promise<TaskRow | undefined> {
  const [row] = await q
    .select()
    .from(tasks)
    .where(
      and(
        eq(tasks.fingerprint, fingerprint),
        gte(tasks.createdAt, since),
        notInArray(tasks.status, excluded),
      ),
    )
    .orderBy(desc(tasks.createdAt))
    .limit(1);
  return row;
}

export async function updateTask(q: Queryable, id: string, patch: Partial<NewTask>): Promise<TaskRow> {
  const [row] = await q.update(tasks).set(storable(patch)).where(eq(tasks.id, id)).returning();
  if (!row) throw new Error(`task ${id} vanished during an update`);
  return row;
}

/**
 * The tasks with these ids, locked against status changes (FOR SHARE) until the transaction ends.
 * A submission locks its dependencies so none can end between being read as unfinished and the
 * new dependency edge being committed, which would leave the dependent waiting forever.
 */
export async function lockTasksForShare(q: Queryable, ids: string[]): Promise<TaskRow[]> {
  if (ids.length === 0) return [];
  return q.select().from(tasks).where(inArray(tasks.id, ids)).orderBy(asc(tasks.id)).for('share');
}

export async function insertDependencies(
  q: Queryable,
  edges: Array<{ taskId: string; dependsOnId: string }>,
): Promise<void> {
  if (edges.length === 0) return;
  await q.insert(taskDependencies).values(edges).onConflictDoNothing();
}

/** The ids each of `taskIds` depends on (tasks without dependencies are absent from the map). */
export async function dependenciesOf(q: Queryable, taskIds: string[]): Promise<Map<string, string[]>> {
  const result = new Map<string, string[]>();
  if (taskIds.length === 0) return result;
  const rows = await q
    .select()
    .from(taskDependencies)
    .where(inArray(taskDependencies.taskId, taskIds))
    .orderBy(asc(taskDependencies.taskId), asc(taskDependencies.dependsOnId));
  for (const row of rows) result.set(row.taskId, [...(result.get(row.taskId) ?? []), row.dependsOnId]);
  return result;
}

/** The statuses of the tasks `taskId` depends on. */
export async function dependencyStatuses(
  q: Queryable,
  taskId: string,
): Promise<Array<{ id: string; status: TaskStatus }>> {
  return q
    .select({ id: tasks.id, status: tasks.status })
    .from(taskDependencies)
    .innerJoin(tasks, eq(tasks.id, taskDependencies.dependsOnId))
    .where(eq(taskDependencies.taskId, taskId))
    .orderBy(asc(tasks.id));
}

/** Waiting tasks that depend on `taskId`, in id order (the order they are locked in). */
export async function waitingDependentsOf(q: Queryable, taskId: string): Promise<string[]> {
  const rows = await q
    .select({ id: tasks.id })
    .from(taskDependencies)
    .innerJoin(tasks, eq(tasks.id, taskDependencies.taskId))
    .where(and(eq(taskDependencies.dependsOnId, taskId), eq(tasks.status, 'waiting')))
    .orderBy(asc(tasks.id));
  return rows.map((row) => row.id);
}

/**
 * One page of tasks, newest first, strictly after `after` in that order. Returns the query itself:
 * awaiting it runs it, and `toSQL()` shows it (a test checks its plan uses an index).
 */
export function listTasks(
  q: Queryable,
  filters: TaskFilters,
  page: { limit: number; after?: CursorPosition },
) {
  const conditions = [
    filters.status?.length ? inArray(tasks.status, filters.status) : undefined,
    filters.type?.length ? inArray(tasks.type, filters.type) : undefined,
    filters.repository ? eq(tasks.repository, filters.repository) : undefined,
    filters.submissionId ? eq(tasks.submissionId, filters.submissionId) : undefined,
    filters.createdAfter ? gte(tasks.createdAt, filters.createdAfter) : undefined,
    filters.createdBefore ? lt(tasks.createdAt, filters.createdBefore) : undefined,
    page.after
      ? or(
          lt(tasks.createdAt, page.after.createdAt),
          and(eq(tasks.createdAt, page.after.createdAt), lt(tasks.id, page.after.id)),
        )
      : undefined,
  ];
  return q
    .select()
    .from(tasks)
    .where(and(...conditions))
    .orderBy(desc(tasks.createdAt), desc(tasks.id))
    .limit(page.limit);
}

/** Running tasks (among `ids`) that someone asked to cancel. */
export async function cancelRequestedAmong(q: Queryable, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await q
    .select({ id: tasks.id })
    .from(tasks)
    .where(and(inArray(tasks.id, ids), sql`${tasks.cancelRequestedAt} is not null`));
  return rows.map((row) => row.id);
}

export async function countTasksBy(q: Queryable, column: 'status' | 'type'): Promise<Record<string, number>> {
  const field = column === 'status' ? tasks.status : tasks.type;
  const rows = await q.select({ key: field, count: sql<number>`count(*)::int` }).from(tasks).groupBy(field);
  return Object.fromEntries(rows.map((row) => [row.key, row.count]));
}

export async function insertAttempt(q: Queryable, row: NewAttempt): Promise<AttemptRow> {
  const [inserted] = await q.insert(taskAttempts).values(row).returning();
  return inserted!;
}

export async function updateAttempt(
  q: Queryable,
  id: string,
  patch: Partial<NewAttempt>,
): Promise<AttemptRow> {
  const [row] = await q.update(taskAttempts).set(storable(patch)).where(eq(taskAttempts.id, id)).returning();
  if (!row) throw new Error(`attempt ${id} vanished during an update`);
  return row;
}

/**
 * Records what a running attempt has used so far (requests, tokens, cost), so the agent's quota
 * windows are charged as requests happen and an attempt that is later lost keeps its charge. Only
 * while the attempt is open: its final figures, written when it ends, are never overwritten.
 */
export async function recordAttemptUsage(
  q: Queryable,
  id: string,
  used: { apiRequests: number; usage: TokenUsage; costUsd: number },
): Promise<void> {
  await q
    .update(taskAttempts)
    .set({
      apiRequests: used.apiRequests,
      inputTokens: used.usage.inputTokens,
      outputTokens: used.usage.outputTokens,
      cacheReadTokens: used.usage.cacheReadTokens,
      cacheWriteTokens: used.usage.cacheWriteTokens,
      costUsd: used.costUsd,
    })
    .where(and(eq(taskAttempts.id, id), isNull(taskAttempts.endedAt)));
}

export async function getAttempt(q: Queryable, id: string): Promise<AttemptRow | undefined> {
  const [row] = await q.select().from(taskAttempts).where(eq(taskAttempts.id, id));
  return row;
}

export async function listAttempts(q: Queryable, taskId: string): Promise<AttemptRow[]> {
  return q
    .select()
    .from(taskAttempts)
    .where(eq(taskAttempts.taskId, taskId))
    .orderBy(asc(taskAttempts.number));
}

/** Attempts of a task that have not ended: at most one, unless something went badly wrong. */
/**
 * Deletes up to `limit` tasks that finished before `before`, with their attempts, events and
 * dependency edges (by cascade); returns how many. A task still referenced as the dependency of an
 * unfinished one is kept.
 */
export async function deleteFinishedTasks(q: Queryable, before: Date, limit: number): Promise<number> {
  const old = q
    .select({ id: tasks.id })
    .from(tasks)
    .where(
      and(
        inArray(tasks.status, [...TERMINAL_STATUSES]),
        lt(tasks.finishedAt, before),
        sql`not exists (select 1 from ${taskDependencies} d join ${tasks} t on t.id = d.task_id where d.depends_on_id = ${tasks.id} and t.status not in ('succeeded', 'failed', 'cancelled'))`,
      ),
    )
    .limit(limit);
  const deleted = await q.delete(tasks).where(inArray(tasks.id, old)).returning({ id: tasks.id });
  return deleted.length;
}

/** Whether a task with this id exists (a worker asks before deleting what it keeps for the task). */
export async function existingTaskIds(q: Queryable, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await q.select({ id: tasks.id }).from(tasks).where(inArray(tasks.id, ids));
  return new Set(rows.map((row) => row.id));
}

/** A task's open attempts, optionally locked (a lease renewal then waits for the transaction). */
export async function openAttempts(
  q: Queryable,
  taskId: string,
  options: { lock?: boolean } = {},
): Promise<AttemptRow[]> {
  const query = q
    .select()
    .from(taskAttempts)
    .where(and(eq(taskAttempts.taskId, taskId), isNull(taskAttempts.endedAt)))
    .orderBy(asc(taskAttempts.number));
  return options.lock ? query.for('update') : query;
}

/** Cost and token totals per task, over all of its attempts. */
export async function attemptTotals(q: Queryable, taskIds: string[]): Promise<Map<string, AttemptTotals>> {
  const totals = new Map<string, AttemptTotals>();
  if (taskIds.length === 0) return totals;
  const rows = await q
    .select({
      taskId: taskAttempts.taskId,
      attempts: sql<number>`count(*)::int`,
      costUsd: sql<number>`coalesce(sum(${taskAttempts.costUsd}), 0)::float8`,
      inputTokens: sql<number>`coalesce(sum(${taskAttempts.inputTokens}), 0)::int`,
      outputTokens: sql<number>`coalesce(sum(${taskAttempts.outputTokens}), 0)::int`,
      cacheReadTokens: sql<number>`coalesce(sum(${taskAttempts.cacheReadTokens}), 0)::int`,
      cacheWriteTokens: sql<number>`coalesce(sum(${taskAttempts.cacheWriteTokens}), 0)::int`,
    })
    .from(taskAttempts)
    .where(inArray(taskAttempts.taskId, taskIds))
    .groupBy(taskAttempts.taskId);
  for (const { taskId, ...rest } of rows) totals.set(taskId, rest);
  return totals;
}

/** Cost and tokens over every attempt in the database. */
export async function overallTotals(
  q: Queryable,
): Promise<Omit<AttemptTotals, 'attempts'> & { attempts: number }> {
  const [row] = await q
    .select({
      attempts: sql<number>`count(*)::int`,
      costUsd: sql<number>`coalesce(sum(${taskAttempts.costUsd}), 0)::float8`,
      inputTokens: sql<number>`coalesce(sum(${taskAttempts.inputTokens}), 0)::bigint`,
      outputTokens: sql<number>`coalesce(sum(${taskAttempts.outputTokens}), 0)::bigint`,
      cacheReadTokens: sql<number>`coalesce(sum(${taskAttempts.cacheReadTokens}), 0)::bigint`,
      cacheWriteTokens: sql<number>`coalesce(sum(${taskAttempts.cacheWriteTokens}), 0)::bigint`,
    })
    .from(taskAttempts);
  return {
    attempts: Number(row!.attempts),
    costUsd: Number(row!.costUsd),
    inputTokens: Number(row!.inputTokens),
    outputTokens: Number(row!.outputTokens),
    cacheReadTokens: Number(row!.cacheReadTokens),
    cacheWriteTokens: Number(row!.cacheWriteTokens),
  };
}

export async function insertEvents(q: Queryable, rows: NewTaskEvent[]): Promise<TaskEventRow[]> {
  if (rows.length === 0) return [];
  return q.insert(taskEvents).values(storable(rows)).returning();
}

/** Events of a task after the given event id, oldest first. */
export async function listEvents(
  q: Queryable,
  taskId: string,
  page: { afterId?: number; limit: number },
): Promise<TaskEventRow[]> {
  return q
    .select()
    .from(taskEvents)
    .where(
      and(
        eq(taskEvents.taskId, taskId),
        page.afterId !== undefined ? gt(taskEvents.id, page.afterId) : undefined,
      ),
    )
    .orderBy(asc(taskEvents.id))
    .limit(page.limit);
}

/** Which of these attempts led a batch (another task's attempt rode in its session). */
export async function batchLeads(q: Queryable, attemptIds: string[]): Promise<Set<string>> {
  if (attemptIds.length === 0) return new Set();
  const rows = await q
    .selectDistinct({ id: taskAttempts.batchLeadAttemptId })
    .from(taskAttempts)
    .where(inArray(taskAttempts.batchLeadAttemptId, attemptIds));
  return new Set(rows.map((row) => row.id!));
}

/** The event types that say what an agent did, for a handoff digest (src/core/handoff.ts). */
const STEP_EVENT_TYPES = [
  'assistant',
  'item.completed/agent_message',
  'item.completed/command_execution',
  'item.completed/file_change',
  'item.completed/mcp_tool_call',
  'gemini.message',
  'gemini.tool_use',
];

/** The latest `limit` events of an attempt that say what its agent did, oldest first. */
export async function stepEventsOf(
  q: Queryable,
  taskId: string,
  attemptId: string,
  limit: number,
): Promise<Array<{ type: string; data: unknown }>> {
  const rows = await q
    .select({ type: taskEvents.type, data: taskEvents.data })
    .from(taskEvents)
    .where(
      and(
        eq(taskEvents.taskId, taskId),
        eq(taskEvents.attemptId, attemptId),
        inArray(taskEvents.type, STEP_EVENT_TYPES),
      ),
    )
    .orderBy(desc(taskEvents.id))
    .limit(limit);
  return rows.reverse();
}

/** The events of an attempt that say which tools it used and which were denied. */
export function toolEventsOf(
  q: Queryable,
  taskId: string,
  attemptId: string,
): Promise<Array<{ type: string; data: unknown }>> {
  return q
    .select({ type: taskEvents.type, data: taskEvents.data })
    .from(taskEvents)
    .where(
      and(
        // By task first: that is what the events are indexed by.
        eq(taskEvents.taskId, taskId),
        eq(taskEvents.attemptId, attemptId),
        inArray(taskEvents.type, [
          'assistant',
          'system/permission_denied',
          'gemini.tool_use',
          ...CODEX_TOOL_EVENTS,
        ]),
      ),
    );
}
