import { sql } from 'drizzle-orm';
import { type DrizzleTransactionLike, fromDrizzle, type Job, PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import type { Database, Tx } from '../store/database.ts';

/** The pg-boss queue that carries "run the next attempt of task X" jobs. */
export const TASK_QUEUE = 'supervisor-tasks';

export interface DispatchJobData {
  taskId: string;
}

export type DispatchJob = Job<DispatchJobData>;

export interface TaskQueueOptions {
  /** A worker that misses heartbeats this long is presumed dead and its job is handed out again. */
  heartbeatSeconds: number;
  logger: Logger;
}

/**
 * pg-boss on the supervisor's own database. Jobs are only dispatch tokens: the task row is the
 * truth, and a job is always sent in the same transaction that moves its task into a runnable
 * status, so a task can never be queued without a job or a job exist for a task that was not saved.
 */
export class TaskQueue {
  readonly boss: PgBoss;
  /** How often pg-boss's monitor (and supervise) pass should run. */
  readonly monitorSeconds: number;
  readonly #logger: Logger;

  private constructor(boss: PgBoss, monitorSeconds: number, logger: Logger) {
    this.boss = boss;
    this.monitorSeconds = monitorSeconds;
    this.#logger = logger;
  }

  static async start(database: Database, options: TaskQueueOptions): Promise<TaskQueue> {
    const monitorSeconds = Math.max(1, Math.floor(options.heartbeatSeconds / 2));
    const boss = new PgBoss({
      ...database.bossOptions,
      useListenNotify: true,
      schedule: false,
      // How often pg-boss looks for jobs whose worker stopped sending heartbeats. The check runs in
      // its monitor pass, so both intervals matter: with the default 60 s monitor, a dead worker's
      // task would wait a minute for recovery whatever the heartbeat said.
      superviseIntervalSeconds: monitorSeconds,
      monitorIntervalSeconds: monitorSeconds,
      // The backlog count that lets a worker fetch without pausing (see `work`) is this fresh.
      queueCacheIntervalSeconds: monitorSeconds,
    });
    boss.on('error', (error) => options.logger.error({ err: error }, 'queue error'));
    await boss.start();
    await boss.createQueue(TASK_QUEUE, {
      notify: true,
      // A job whose worker misses heartbeats is delivered again: that starts a task whose worker
      // died before it began. A task whose attempt had begun is the attempt lease's to recover
      // (src/store/lease-store.ts), so such a delivery finds it running and does nothing: a worker
      // that only lost the database for a while keeps its agent.
      heartbeatSeconds: options.heartbeatSeconds,
      // The task's own retries are decided by the supervisor.
      retryLimit: 25,
      retryDelay: 0,
      // Attempts are bounded by their own watchdogs; this only reclaims jobs of a stuck worker.
      expireInSeconds: 24 * 3600,
      retentionSeconds: 14 * 24 * 3600,
      deleteAfterSeconds: 7 * 24 * 3600,
    });
    return new TaskQueue(boss, monitorSeconds, options.logger);
  }

  /**
   * Sends the dispatch job for `taskId` inside `tx`; returns the job id. Pass `jobId` to choose the
   * id up front, so the task row can be written with it in a single insert.
   */
  async dispatch(
    tx: Tx,
    taskId: string,
    options: { priority: number; startAfter?: Date; jobId?: string },
  ): Promise<string> {
    const data: DispatchJobData = { taskId };
    const id = await this.boss.send(TASK_QUEUE, data, {
      ...(options.jobId ? { id: options.jobId } : {}),
      // Drizzle types `execute` loosely per driver; both drivers return `{ rows }` as pg-boss expects.
      db: fromDrizzle(tx as unknown as DrizzleTransactionLike, sql),
      priority: options.priority,
      ...(options.startAfter ? { startAfter: options.startAfter } : {}),
    });
    if (!id) throw new Error(`pg-boss did not create a job for task ${taskId}`);
    return id;
  }

  /** Withdraws a job that has not started. Harmless if it already ran or is gone. */
  async withdraw(jobId: string): Promise<void> {
    await this.boss.cancel(TASK_QUEUE, jobId).catch((error: unknown) => {
      this.#logger.warn({ err: error, jobId }, 'could not withdraw queue job; the worker will skip it');
    });
  }

  /**
   * pg-boss's own view of the task queue (it answers, and its counts), and how long ago its
   * monitor last ran: the pass that hands out again the jobs of workers that missed heartbeats.
   */
  async health(): Promise<{ queued: number; active: number; monitoredSecondsAgo: number | null }> {
    const queue = await this.boss.getQueue(TASK_QUEUE);
    if (!queue) throw new Error(`pg-boss has no queue ${TASK_QUEUE}: run \`supervisor migrate\``);
    // pg-boss's queue table (schema `pgboss`, the default) records its monitor's last pass.
    const { rows } = await this.boss
      .getDb()
      .executeSql(
        'select extract(epoch from now() - monitor_on)::float8 as ago from pgboss.queue where name = $1',
        [TASK_QUEUE],
      );
    const ago = (rows[0] as { ago: number | null } | undefined)?.ago ?? null;
    return {
      queued: queue.queuedCount,
      active: queue.activeCount,
      monitoredSecondsAgo: ago === null ? null : Math.round(ago),
    };
  }

  async work(concurrency: number, handler: (job: DispatchJob) => Promise<void>): Promise<string> {
    return this.boss.work<DispatchJobData>(
      TASK_QUEUE,
      // NOTIFY wakes workers for new jobs at once. Polling catches jobs whose start time arrives later
      // (retry backoff, run_after) and follows a job shorter than the interval (pg-boss waits out the
      // rest of it), so 0.5 s, pg-boss's minimum, bounds both delays. While a backlog waits, a slot
      // that frees fetches its next job at once instead (burst): without it a worker drained a
      // backlog at one task per slot per 0.5 s however quick the tasks (bench/dispatch.ts).
      {
        batchSize: 1,
        localConcurrency: concurrency,
        pollingIntervalSeconds: 0.5,
        notifyPollingIntervalSeconds: 0.5,
        burstWhenReadyExceeds: 1,
      },
      async ([job]) => {
        if (job) await handler(job);
      },
    );
  }

  /** Stops fetching new jobs; running handlers carry on. */
  async stopFetching(): Promise<void> {
    await this.boss.offWork(TASK_QUEUE, { wait: false });
  }

  async stop(): Promise<void> {
    await this.boss.stop({ graceful: false, close: true, timeout: 5000 });
  }
}
