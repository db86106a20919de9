import { sql } from 'drizzle-orm';
import { type DrizzleTransactionLike, fromDrizzle, type PgBoss } from 'pg-boss';
import type { Queryable } from '../store/database.ts';

/** Deliveries are handled, and results posted, from their own pg-boss queue: GitHub never waits on us. */
export const GITHUB_QUEUE = 'supervisor-github';
/** Tasks started by GitHub events are submitted by this actor. */
export const GITHUB_ACTOR = 'github';

export type GitHubJob =
  | { kind: 'delivery'; id: string }
  | { kind: 'task'; taskId: string }
  | { kind: 'reconcile' };

/**
 * Creates the queue. Every process does, GitHub configured or not: a status change of a GitHub
 * task queues its update wherever it happens (see queueGitHubUpdate).
 */
export async function createGitHubQueue(boss: PgBoss): Promise<void> {
  await boss.createQueue(GITHUB_QUEUE, {
    // One job per key waiting and one running: a task's updates never race each other, and an
    // update queued while another waits is the same work (each reads the task as it is then).
    policy: 'stately',
    retryLimit: 20,
    retryDelay: 5,
    retryBackoff: true,
    retryDelayMax: 600,
    expireInSeconds: 300,
    retentionSeconds: 7 * 24 * 3600,
  });
}

/** Queues a GitHub task's update (tracking comment, check run, review) in the transaction that changed it. */
export async function queueGitHubUpdate(q: Queryable, boss: PgBoss, taskId: string): Promise<void> {
  await sendJob(q, boss, { kind: 'task', taskId }, `task:${taskId}`);
}

export async function sendJob(
  q: Queryable,
  boss: PgBoss,
  job: GitHubJob,
  singletonKey: string,
): Promise<void> {
  await boss.send(GITHUB_QUEUE, job, {
    singletonKey,
    db: fromDrizzle(q as unknown as DrizzleTransactionLike, sql),
  });
}
