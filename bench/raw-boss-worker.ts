/**
 * The baseline worker of bench/dispatch.ts: raw pg-boss `work` on the benchmark queue with the
 * same fetch settings the supervisor's workers use, and a handler that does nothing.
 */
import { PgBoss } from 'pg-boss';

const boss = new PgBoss({
  connectionString: process.env.DATABASE_URL!,
  useListenNotify: true,
  schedule: false,
  // As src/queue/task-queue.ts sets them for the default WORKER_HEARTBEAT_SECONDS.
  superviseIntervalSeconds: 5,
  monitorIntervalSeconds: 5,
  queueCacheIntervalSeconds: 5,
});
await boss.start();
await boss.work(
  'raw-bench',
  {
    batchSize: 1,
    localConcurrency: Number(process.env.CONCURRENCY ?? 4),
    pollingIntervalSeconds: 0.5,
    notifyPollingIntervalSeconds: 0.5,
    burstWhenReadyExceeds: 1,
  },
  async () => {},
);
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  boss.stop({ graceful: false }).then(() => process.exit(0));
});
