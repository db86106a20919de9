/**
 * Dispatch throughput of distributed mode, with 1, 2 and 4 worker processes and an instant agent
 * (the echo driver with no delay), next to raw pg-boss send→work on the same PostgreSQL server with
 * the same number of processes, in the same run. The backlog is built first (no worker running);
 * then the workers start and the drain is timed, so the figure is dispatch alone, not submission.
 *
 *   DATABASE_URL=postgres://root@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379 node bench/dispatch.ts
 *   BENCH_TASKS=500 (per configuration), BENCH_WORKERS=1,2,4, BENCH_PROFILE_DIR=<dir> (CPU profiles of the workers)
 *
 * Drain time: the first attempt's start → the last attempt's end (supervisor, from the database);
 * the first job's start → the last job's completion (raw, pg-boss's own timestamps).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import pino from 'pino';
import { MemoryEventBus } from '../src/events/memory-bus.ts';
import { TASK_QUEUE, TaskQueue } from '../src/queue/task-queue.ts';
import { type Database, openDatabase, queryRows } from '../src/store/database.ts';
import { TaskService } from '../src/tasks/task-service.ts';
import { freshDatabase } from './support.ts';

const TASKS = Number(process.env.BENCH_TASKS ?? 500);
const WORKER_COUNTS = (process.env.BENCH_WORKERS ?? '1,2,4').split(',').map(Number);
/** A directory: each supervisor worker writes a CPU profile there (open it in Chrome's DevTools). */
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const CONCURRENCY = 4;
const adminUrl = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const RAW_WORKER = fileURLToPath(new URL('./raw-boss-worker.ts', import.meta.url));
const silent = pino({ level: 'silent' });

interface Figures {
  jobsPerSecond: number;
  drainMs: number;
}

async function startProcesses(
  count: number,
  command: string[],
  env: Record<string, string>,
): Promise<ChildProcess[]> {
  const children = Array.from({ length: count }, () =>
    spawn(process.execPath, command, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  await Promise.all(children.map((child) => waitForReady(child, 'ready')));
  return children;
}

/** Resolves when the process prints `marker` (its log line saying it takes jobs). */
async function waitForReady(child: ChildProcess, marker: string): Promise<void> {
  let output = '';
  for await (const chunk of child.stdout!) {
    output += chunk;
    if (output.includes(marker)) return;
  }
  throw new Error(`process exited before it was ready:\n${output}`);
}

async function stopProcesses(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    }),
  );
}

function figures(count: number, drainMs: number): Figures {
  return { jobsPerSecond: (count / drainMs) * 1000, drainMs };
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 300_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within 5 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function supervisorRun(workers: number): Promise<Figures> {
  const url = await freshDatabase(adminUrl, `bench_dispatch_${workers}`);
  const database: Database = await openDatabase({ kind: 'postgres', url, poolSize: 4 });
  await database.migrate();
  const queue = await TaskQueue.start(database, { heartbeatSeconds: 10, logger: silent });
  const tasks = new TaskService({
    db: database.db,
    queue,
    bus: new MemoryEventBus(),
    defaultMaxAttempts: 1,
    dedupWindowSeconds: 3600,
    repositoryPolicy: { schemes: ['https'], hosts: [] },
  });
  const env = {
    DATABASE_URL: url,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: `bench-${workers}-${Date.now()}`,
    SECRETS_KEY: 'a benchmark key, long enough',
    AGENT_DRIVER: 'echo',
    ECHO_DRIVER_DELAY_MS: '0',
    WORKER_CONCURRENCY: String(CONCURRENCY),
    LOG_LEVEL: 'info',
  };
  const children: ChildProcess[] = [];
  try {
    for (let i = 0; i < TASKS; i++) {
      await tasks.submit(
        { type: 'CODE_ANALYSIS', payload: { repository: 'owner/repo' }, priority: 5 },
        { actor: { name: 'bench' } },
      );
    }
    // The backlog's count, which lets workers fetch without pausing, is current when they start.
    await queue.boss.supervise(TASK_QUEUE);
    for (let i = 0; i < workers; i++) {
      const profile = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
      const child = spawn(process.execPath, [...profile, CLI, 'worker'], {
        env: { ...process.env, ...env, PORT: '0', DATA_DIR: `/tmp/bench-dispatch-${workers}-${i}` },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
    }
    await Promise.all(children.map((child) => waitForReady(child, 'worker started')));
    await waitFor(async () => {
      const [row] = await queryRows<{ n: number }>(
        database.db,
        sql`select count(*)::int as n from tasks where status = 'succeeded'`,
      );
      return row!.n >= TASKS;
    }, 'all tasks finished');
    const [span] = await queryRows<{ ms: number }>(
      database.db,
      sql`select extract(epoch from (max(ended_at) - min(started_at))) * 1000 as ms from task_attempts`,
    );
    return figures(TASKS, Number(span!.ms));
  } finally {
    await stopProcesses(children);
    await queue.stop();
    await database.close();
  }
}

async function rawRun(workers: number): Promise<Figures> {
  const url = await freshDatabase(adminUrl, `bench_raw_${workers}`);
  const boss = new PgBoss({ connectionString: url, useListenNotify: true, schedule: false });
  await boss.start();
  await boss.createQueue('raw-bench', { notify: true, heartbeatSeconds: 10 });
  try {
    for (let i = 0; i < TASKS; i++) await boss.send('raw-bench', { i });
    await boss.supervise('raw-bench');
    const children = await startProcesses(workers, [RAW_WORKER], {
      DATABASE_URL: url,
      CONCURRENCY: String(CONCURRENCY),
    });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await waitFor(async () => {
        const { rows } = await client.query(
          `select count(*)::int as n from pgboss.job where name = 'raw-bench' and state = 'completed'`,
        );
        return rows[0].n >= TASKS;
      }, 'all raw jobs finished');
      const { rows: span } = await client.query(
        `select extract(epoch from (max(completed_on) - min(started_on))) * 1000 as ms from pgboss.job where name = 'raw-bench'`,
      );
      return figures(TASKS, Number(span[0].ms));
    } finally {
      await client.end();
      await stopProcesses(children);
    }
  } finally {
    await boss.stop({ graceful: false });
  }
}

const fmt = (f: Figures) =>
  `${f.jobsPerSecond.toFixed(0).padStart(5)} tasks/s (drained in ${(f.drainMs / 1000).toFixed(2)} s)`;
console.log(
  `dispatch: a backlog of ${TASKS} tasks drained, ${CONCURRENCY} slots per worker process, instant agent, Node ${process.version}`,
);
for (const workers of WORKER_COUNTS) {
  const raw = await rawRun(workers);
  const ours = await supervisorRun(workers);
  console.log(
    `${workers} worker(s)  raw pg-boss ${fmt(raw)}   supervisor ${fmt(ours)}   throughput ratio ${(ours.jobsPerSecond / raw.jobsPerSecond).toFixed(2)}`,
  );
}
