import type { Logger } from 'pino';
import { pruneAudit } from '../audit/audit-retention.ts';
import { deleteDeliveries } from '../github/github-store.ts';
import type { Db } from '../store/database.ts';
import { deleteEmptySubmissions } from '../store/submission-store.ts';
import { deleteFinishedTasks } from '../store/task-store.ts';

/** Retention runs at start and then this often. */
const RETENTION_INTERVAL_MS = 24 * 3_600_000;
/** Tasks deleted per statement: each delete stays a short transaction. */
const TASKS_PER_DELETE = 1000;
const DAY_MS = 86_400_000;

export interface RetentionSettings {
  db: Db;
  logger: Logger;
  now: () => Date;
  /**
   * Finished tasks older than this are deleted with their attempts and events, and GitHub
   * deliveries received before it (TASK_RETENTION_DAYS).
   */
  taskDays: number;
  /** Audit records older than this are pruned, leaving a verifiable anchor (AUDIT_RETENTION_DAYS; unset: kept). */
  auditDays?: number;
}

/**
 * Deletes what has outlived its retention, at start and daily; returns the function that stops it.
 * Every API process runs it: a second run finds nothing left to do (audit pruning takes the
 * chain's append lock). Workers remove their own files of deleted tasks (their sweeper).
 */
export function startRetention(settings: RetentionSettings): () => void {
  const { db, logger, now } = settings;
  const run = async () => {
    try {
      const before = new Date(now().getTime() - settings.taskDays * DAY_MS);
      let deleted = 0;
      for (let batch = TASKS_PER_DELETE; batch === TASKS_PER_DELETE; deleted += batch) {
        batch = await deleteFinishedTasks(db, before, TASKS_PER_DELETE);
      }
      if (deleted) logger.info({ deleted, before }, 'finished tasks past TASK_RETENTION_DAYS deleted');
      await deleteEmptySubmissions(db, before);
      await deleteDeliveries(db, before);
      if (settings.auditDays !== undefined) {
        const pruned = await pruneAudit(db, new Date(now().getTime() - settings.auditDays * DAY_MS), now());
        if (pruned)
          logger.info({ removed: pruned.removed, throughId: pruned.through_id }, 'audit records pruned');
      }
    } catch (error) {
      logger.warn({ err: error }, 'retention failed; retrying in a day');
    }
  };
  void run();
  const timer = setInterval(run, RETENTION_INTERVAL_MS).unref();
  return () => clearInterval(timer);
}
