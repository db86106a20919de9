import { and, asc, count, eq, inArray, isNull, ne } from 'drizzle-orm';
import type { Queryable } from './database.ts';
import { type TaskMessageRow, taskMessages } from './schema.ts';

/** People's messages to tasks (src/tasks/task-service.ts sendMessage). */

export async function insertMessage(
  q: Queryable,
  message: Omit<TaskMessageRow, 'reply' | 'replyOutcome' | 'repliedAt'>,
): Promise<TaskMessageRow> {
  const [row] = await q.insert(taskMessages).values(message).returning();
  return row!;
}

/** A task's messages, oldest first. */
export async function listMessages(q: Queryable, taskId: string): Promise<TaskMessageRow[]> {
  return q
    .select()
    .from(taskMessages)
    .where(eq(taskMessages.taskId, taskId))
    .orderBy(asc(taskMessages.createdAt), asc(taskMessages.id));
}

export async function countMessages(q: Queryable, taskId: string): Promise<number> {
  const [row] = await q.select({ count: count() }).from(taskMessages).where(eq(taskMessages.taskId, taskId));
  return row?.count ?? 0;
}

/** The message that started the task's run whose attempts are numbered after `runBase`, if one did. */
export async function messageOfRun(
  q: Queryable,
  taskId: string,
  runBase: number,
): Promise<TaskMessageRow | undefined> {
  const [row] = await q
    .select()
    .from(taskMessages)
    .where(
      and(eq(taskMessages.taskId, taskId), eq(taskMessages.runBase, runBase), ne(taskMessages.kind, 'steer')),
    );
  return row;
}

/**
 * Takes the messages waiting for the task's running agent: they become part of its run (numbered
 * after `runBase`), answered by what that run ends with. Oldest first.
 */
export async function takeWaitingMessages(
  q: Queryable,
  taskId: string,
  runBase: number,
): Promise<TaskMessageRow[]> {
  const rows = await q
    .update(taskMessages)
    .set({ runBase, kind: 'steer' })
    .where(and(eq(taskMessages.taskId, taskId), isNull(taskMessages.runBase)))
    .returning();
  return rows.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id));
}

/** Those of `taskIds` that have messages waiting. */
export async function tasksWithWaitingMessages(q: Queryable, taskIds: string[]): Promise<string[]> {
  if (taskIds.length === 0) return [];
  const rows = await q
    .selectDistinct({ taskId: taskMessages.taskId })
    .from(taskMessages)
    .where(and(inArray(taskMessages.taskId, taskIds), isNull(taskMessages.runBase)));
  return rows.map((row) => row.taskId);
}

/** The message a task got from `source` (see taskMessages.source), if any. */
export async function messageFrom(
  q: Queryable,
  taskId: string,
  source: string,
): Promise<TaskMessageRow | undefined> {
  const [row] = await q
    .select()
    .from(taskMessages)
    .where(and(eq(taskMessages.taskId, taskId), eq(taskMessages.source, source)));
  return row;
}

/** The oldest message waiting for the task's current run to end, if any. */
export async function oldestPendingMessage(
  q: Queryable,
  taskId: string,
): Promise<TaskMessageRow | undefined> {
  const [row] = await q
    .select()
    .from(taskMessages)
    .where(and(eq(taskMessages.taskId, taskId), isNull(taskMessages.runBase)))
    .orderBy(asc(taskMessages.createdAt), asc(taskMessages.id))
    .limit(1);
  return row;
}

/** A waiting message starts the run numbered after `runBase`. */
export async function startRun(
  q: Queryable,
  id: string,
  run: Pick<TaskMessageRow, 'runBase' | 'kind' | 'earlier'>,
): Promise<void> {
  await q.update(taskMessages).set(run).where(eq(taskMessages.id, id));
}

/** Keeps what the run a message started ended with (once). */
export async function recordReply(
  q: Queryable,
  taskId: string,
  runBase: number,
  reply: { text: string | null; outcome: string | null; at: Date },
): Promise<void> {
  await q
    .update(taskMessages)
    .set({ reply: reply.text, replyOutcome: reply.outcome, repliedAt: reply.at })
    .where(
      and(eq(taskMessages.taskId, taskId), eq(taskMessages.runBase, runBase), isNull(taskMessages.repliedAt)),
    );
}
