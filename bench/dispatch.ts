/**
 * Dispatch throughput and submit→start latency of distributed mode, with 1, 2 and 4 worker
 * processes and an instant agent (the echo driver with no delay), next to raw pg-boss send→work
 * on the same PostgreSQL server with the same number of processes, in the same run.
 *
 *   DATABASE_URL=postgres://root@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379 node bench/dispatch.ts
 *   BENCH_TASKS=500 (per configuration)
 *
 * Supervisor figures come from the database: tasks.created_at → first attempt started_at (latency)
 * and first submit → last attempt end (throughput). Raw figures from pg-boss's own job timestamps.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import pino from 'pino';
import { MemoryEventBus } from '../src/events/memory-bus.ts';
import { TaskQueue } from '../src/queue/task-queue.ts';
import { type Database, openDatabase, queryRows } from '../src/store/database.ts';
import { TaskService } from '../src/tasks/task-service.ts';

const TASKS = Number(process.env.BENCH_TASKS ?? 500);
const WORKER_COUNTS = [1, 2, 4];
const CONCURRENCY = 4;
const adminUrl = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const RAW_WORKER = fileURLToPath(new URL('./raw-boss-worker.ts', import.meta.url));
const silent = pino({ level: 'silent' });

interface Figures {
  jobsPerSecond: number;
  p50: number;
  p99: number;
}

async function freshDatabase(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
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

function figures(latenciesMs: number[], spanMs: number): Figures {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
  return { jobsPerSecond: (sorted.length / spanMs) * 1000, p50: at(0.5), p99: at(0.99) };
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 300_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within 5 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function supervisorRun(workers: number): Promise<Figures> {
  const url = await freshDatabase(`bench_dispatch_${workers}`);
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
    for (let i = 0; i < workers; i++) {
      const child = spawn(process.execPath, [CLI, 'worker'], {
        env: { ...process.env, ...env, PORT: '0', DATA_DIR: `/tmp/bench-dispatch-${workers}-${i}` },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      await waitForReady(child, 'worker started');
    }
    for (let i = 0; i < TASKS; i++) {
      await tasks.submit(
        { type: 'CODE_ANALYSIS', payload: { repository: 'owner/repo' }, priority: 5 },
        { actor: { name: 'bench' } },
      );
    }
    await waitFor(async () => {
      const [row] = await queryRows<{ n: number }>(
        database.db,
        sql`select count(*)::int as n from tasks where status = 'succeeded'`,
      );
      return row!.n >= TASKS;
    }, 'all tasks finished');
    const rows = await queryRows<{ latency: number }>(
      database.db,
      sql`select extract(epoch from (a.started_at - t.created_at)) * 1000 as latency from tasks t join task_attempts a on a.task_id = t.id and a.number = 1`,
    );
    const [span] = await queryRows<{ ms: number }>(
      database.db,
      sql`select extract(epoch from (max(a.ended_at) - min(t.created_at))) * 1000 as ms from tasks t join task_attempts a on a.task_id = t.id`,
    );
    return figures(
      rows.map((row) => Number(row.latency)),
      Number(span!.ms),
    );
  } finally {
    await stopProcesses(children);
    await queue.stop();
    await database.close();
  }
}

async function rawRun(workers: number): Promise<Figures> {
  const url = await freshDatabase(`bench_raw_${workers}`);
  const boss = new PgBoss({ connectionString: url, useListenNotify: true, schedule: false });
  await boss.start();
  await boss.createQueue('raw-bench', { notify: true, heartbeatSeconds: 10 });
  const children = await startProcesses(workers, [RAW_WORKER], {
    DATABASE_URL: url,
    CONCURRENCY: String(CONCURRENCY),
  });
  try {
    for (let i = 0; i < TASKS; i++) await boss.send('raw-bench', { i });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await waitFor(async () => {
        const { rows } = await client.query(
          `select count(*)::int as n from pgboss.job where name = 'raw-bench' and state = 'completed'`,
        );
        return rows[0].n >= TASKS;
      }, 'all raw jobs finished');
      const { rows } = await client.query(
        `select extract(epoch from (started_on - created_on)) * 1000 as latency from pgboss.job where name = 'raw-bench'`,
      );
      const { rows: span } = await client.query(
        `select extract(epoch from (max(completed_on) - min(created_on))) * 1000 as ms from pgboss.job where name = 'raw-bench'`,
      );
      return figures(
        rows.map((row: { latency: string }) => Number(row.latency)),
        Number(span[0].ms),
      );
    } finally {
      await client.end();
    }
  } finally {
    await stopProcesses(children);
    await boss.stop({ graceful: false });
  }
}

const fmt = (f: Figures) =>
  `${f.jobsPerSecond.toFixed(0).padStart(6)} jobs/s  p50 ${f.p50.toFixed(0).padStart(5)} ms  p99 ${f.p99.toFixed(0).padStart(5)} ms`;
console.log(
  `dispatch: ${TASKS} tasks per run, ${CONCURRENCY} slots per worker process, instant agent, Node ${process.version}`,
);
for (const workers of WORKER_COUNTS) {
  const raw = await rawRun(workers);
  const ours = await supervisorRun(workers);
  console.log(
    `${workers} worker(s)  raw pg-boss ${fmt(raw)}   supervisor ${fmt(ours)}   throughput ratio ${(ours.jobsPerSecond / raw.jobsPerSecond).toFixed(2)}`,
  );
}
