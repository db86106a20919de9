import { and, count, desc, eq, gte, inArray, isNotNull, lt, ne, or, sql } from 'drizzle-orm';
import type { CursorPosition } from '../store/cursor.ts';
import type { Queryable } from '../store/database.ts';
import {
  type GitHubDeliveryRow,
  type GitHubTaskRow,
  githubDeliveries,
  githubTasks,
} from '../store/schema.ts';

/** The database side of the GitHub edge: deliveries received and what was posted per task. */

export interface NewDelivery {
  id: string;
  event: string;
  action: string | null;
  repository: string | null;
  payload: unknown;
  receivedAt: Date;
  reconciled?: boolean;
}

/** Stores a delivery unless its id was seen before; true when it is new. */
export async function insertDelivery(q: Queryable, delivery: NewDelivery): Promise<boolean> {
  const inserted = await q
    .insert(githubDeliveries)
    .values(delivery)
    .onConflictDoNothing()
    .returning({ id: githubDeliveries.id });
  return inserted.length > 0;
}

/** Forgets deliveries received before `before` (retention); a later copy of one would be handled again. */
export async function deleteDeliveries(q: Queryable, before: Date): Promise<void> {
  await q.delete(githubDeliveries).where(lt(githubDeliveries.receivedAt, before));
}

/** Deliveries newest first, after the cursor's position; one more than `limit` says there is a next page. */
export async function listDeliveries(
  q: Queryable,
  page: { limit: number; before?: CursorPosition },
): Promise<GitHubDeliveryRow[]> {
  const { before } = page;
  return q
    .select()
    .from(githubDeliveries)
    .where(
      before
        ? or(
            lt(githubDeliveries.receivedAt, before.createdAt),
            and(eq(githubDeliveries.receivedAt, before.createdAt), lt(githubDeliveries.id, before.id)),
          )
        : undefined,
    )
    .orderBy(desc(githubDeliveries.receivedAt), desc(githubDeliveries.id))
    .limit(page.limit + 1);
}

/** Makes a delivery unhandled again, for a replay; false when there is no such delivery. */
export async function reopenDelivery(q: Queryable, id: string): Promise<boolean> {
  const reopened = await q
    .update(githubDeliveries)
    .set({ handledAt: null, outcome: null, taskId: null })
    .where(eq(githubDeliveries.id, id))
    .returning({ id: githubDeliveries.id });
  return reopened.length > 0;
}

export async function getDelivery(q: Queryable, id: string) {
  const [row] = await q.select().from(githubDeliveries).where(eq(githubDeliveries.id, id));
  return row;
}

export async function markDeliveryHandled(
  q: Queryable,
  id: string,
  result: { at: Date; outcome: string; taskId?: string },
): Promise<void> {
  await q
    .update(githubDeliveries)
    .set({ handledAt: result.at, outcome: result.outcome, taskId: result.taskId ?? null })
    .where(eq(githubDeliveries.id, id));
}

export async function insertGitHubTask(
  q: Queryable,
  row: Pick<GitHubTaskRow, 'taskId' | 'repository' | 'installationId' | 'number' | 'headSha' | 'createdAt'> &
    Partial<Pick<GitHubTaskRow, 'title' | 'url'>>,
): Promise<void> {
  await q.insert(githubTasks).values(row).onConflictDoNothing();
}

export async function getGitHubTask(q: Queryable, taskId: string): Promise<GitHubTaskRow | undefined> {
  const [row] = await q.select().from(githubTasks).where(eq(githubTasks.taskId, taskId));
  return row;
}

export async function updateGitHubTask(
  q: Queryable,
  taskId: string,
  changes: Partial<
    Pick<
      GitHubTaskRow,
      | 'trackingCommentId'
      | 'checkRunId'
      | 'checkRunStatus'
      | 'checkRunRetryBase'
      | 'reviewId'
      | 'reviewUrl'
      | 'postedFindings'
      | 'pullNumber'
      | 'pullUrl'
      | 'answeredMessageId'
    >
  >,
): Promise<void> {
  await q.update(githubTasks).set(changes).where(eq(githubTasks.taskId, taskId));
}

/** The review task of a pull request's commit, if there is one. */
export async function reviewOfCommit(
  q: Queryable,
  repository: string,
  number: number,
  headSha: string,
): Promise<GitHubTaskRow | undefined> {
  const [row] = await q
    .select()
    .from(githubTasks)
    .where(
      and(
        eq(githubTasks.repository, repository),
        eq(githubTasks.number, number),
        eq(githubTasks.headSha, headSha),
      ),
    );
  return row;
}

/** Review tasks of a pull request created since `since` (summaries, which have no commit, do not count). */
export async function reviewsSince(
  q: Queryable,
  repository: string,
  number: number,
  since: Date,
): Promise<number> {
  const [row] = await q
    .select({ count: count() })
    .from(githubTasks)
    .where(
      and(
        eq(githubTasks.repository, repository),
        eq(githubTasks.number, number),
        isNotNull(githubTasks.headSha),
        gte(githubTasks.createdAt, since),
      ),
    );
  return row?.count ?? 0;
}

/** Finding keys already posted on a pull request by reviews of its earlier commits. */
export async function postedFindings(q: Queryable, link: GitHubTaskRow): Promise<Set<string>> {
  const rows = await q
    .select({ keys: githubTasks.postedFindings })
    .from(githubTasks)
    .where(
      and(
        eq(githubTasks.repository, link.repository),
        eq(githubTasks.number, link.number),
        ne(githubTasks.taskId, link.taskId),
        lt(githubTasks.createdAt, link.createdAt),
      ),
    );
  return new Set(rows.flatMap((row) => row.keys));
}

/** The change task that opened a pull request, if the supervisor opened it. */
export async function taskOfPull(
  q: Queryable,
  repository: string,
  pullNumber: number,
): Promise<GitHubTaskRow | undefined> {
  const [row] = await q
    .select()
    .from(githubTasks)
    .where(and(eq(githubTasks.repository, repository), eq(githubTasks.pullNumber, pullNumber)));
  return row;
}

/**
 * Repositories a delivery came from since `since`, with the installation the newest of them named:
 * the ones the reconcile pass looks at.
 */
export async function recentRepositories(
  q: Queryable,
  since: Date,
): Promise<Array<{ repository: string; installationId: number | null }>> {
  const rows = await q
    .selectDistinctOn([githubDeliveries.repository], {
      repository: githubDeliveries.repository,
      installationId: sql<string | null>`${githubDeliveries.payload}->'installation'->>'id'`,
    })
    .from(githubDeliveries)
    .where(and(isNotNull(githubDeliveries.repository), gte(githubDeliveries.receivedAt, since)))
    .orderBy(githubDeliveries.repository, desc(githubDeliveries.receivedAt));
  return rows.map((row) => ({
    repository: row.repository!,
    installationId: row.installationId === null ? null : Number(row.installationId),
  }));
}

/** Whether a delivery (or a review task) is about this head commit of a pull request. */
export async function headKnown(q: Queryable, repository: string, number: number, headSha: string) {
  const [delivered] = await q
    .select({ id: githubDeliveries.id })
    .from(githubDeliveries)
    .where(
      and(
        eq(githubDeliveries.repository, repository),
        sql`${githubDeliveries.payload}->'pull_request'->>'number' = ${String(number)}`,
        sql`${githubDeliveries.payload}->'pull_request'->'head'->>'sha' = ${headSha}`,
      ),
    )
    .limit(1);
  return delivered !== undefined || (await reviewOfCommit(q, repository, number, headSha)) !== undefined;
}

/** Whether a delivery carried this comment. */
export async function commentKnown(q: Queryable, repository: string, commentId: number): Promise<boolean> {
  const [row] = await q
    .select({ id: githubDeliveries.id })
    .from(githubDeliveries)
    .where(
      and(
        eq(githubDeliveries.repository, repository),
        sql`${githubDeliveries.payload}->'comment'->>'id' = ${String(commentId)}`,
      ),
    )
    .limit(1);
  return row !== undefined;
}

/** The GitHub links of those of `taskIds` that came from GitHub. */
export async function linksOf(q: Queryable, taskIds: string[]): Promise<Map<string, GitHubTaskRow>> {
  if (taskIds.length === 0) return new Map();
  const rows = await q.select().from(githubTasks).where(inArray(githubTasks.taskId, taskIds));
  return new Map(rows.map((row) => [row.taskId, row]));
}

/** Deliveries received since `since`, those still waiting to be handled, and the newest one's time. */
export async function deliveryCounts(q: Queryable, since: Date) {
  const [row] = await q
    .select({
      received: sql<number>`count(*) filter (where ${githubDeliveries.receivedAt} >= ${since})`.mapWith(
        Number,
      ),
      reconciled:
        sql<number>`count(*) filter (where ${githubDeliveries.receivedAt} >= ${since} and ${githubDeliveries.reconciled})`.mapWith(
          Number,
        ),
      waiting: sql<number>`count(*) filter (where ${githubDeliveries.handledAt} is null)`.mapWith(Number),
      last: sql<string | null>`max(${githubDeliveries.receivedAt})`,
    })
    .from(githubDeliveries);
  return {
    received: row?.received ?? 0,
    reconciled: row?.reconciled ?? 0,
    waiting: row?.waiting ?? 0,
    lastReceivedAt: row?.last ? new Date(row.last) : null,
  };
}
