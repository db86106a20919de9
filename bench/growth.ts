/**
 * How the supervisor's costs grow with history: the same operations timed against a database
 * holding 1,000 finished tasks and then 100,000 (10 events each: 1,000,000 events), in one run, and
 * the ratio of the two. A target is a ratio within 1.5.
 *
 *   DATABASE_URL=postgres://root@127.0.0.1:5432/test node bench/growth.ts
 *   BENCH_SIZES=1000,100000  BENCH_REPEAT=30
 *
 * Each size gets a fresh database, seeded in SQL (tasks across 50 repositories and three types, one
 * attempt each, a tenth failed), plus one task with 100,000 events whose stream is replayed. The
 * supervisor runs as `supervisor serve` (echo agent) in a child process, so its memory is its own:
 * the replay's memory is the peak rise of that process's resident set while one client reads it.
 * Timed over HTTP: the first page of the task list, a filtered page, one task, the stats summary,
 * a metrics scrape (medians of BENCH_REPEAT), the replay, and dispatch (200 tasks submitted and
 * run by the echo agent, first submit to last finish).
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { openDatabase } from '../src/store/database.ts';
import { freshDatabase, serveReady } from './support.ts';

const SIZES = (process.env.BENCH_SIZES ?? '1000,100000').split(',').map(Number);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 30);
const REPLAY_EVENTS = 100_000;
const DISPATCH_TASKS = 200;
const adminUrl = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';

/** `size` finished tasks with an attempt and 10 events each, and the task whose stream is replayed. */
async function seed(url: string, size: number): Promise<string> {
  const database = await openDatabase({ kind: 'postgres', url, poolSize: 2 });
  await database.migrate();
  await database.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `insert into tasks (id, type, status, priority, repository, payload, max_attempts, submitted_by, outcome,
         created_at, updated_at, started_at, finished_at)
       select gen_random_uuid(), (array['PR_REVIEW','CODE_ANALYSIS','BUG_FIX'])[1 + g % 3],
         case when g % 10 = 0 then 'failed' else 'succeeded' end, 5, 'acme/repo-' || (g % 50),
         jsonb_build_object('repository', 'acme/repo-' || (g % 50)), 3, 'bench',
         case when g % 10 = 0 then 'failed' else 'succeeded' end,
         now() - make_interval(secs => g * 30), now() - make_interval(secs => g * 30),
         now() - make_interval(secs => g * 30), now() - make_interval(secs => g * 30 - 20)
       from generate_series(1, $1::int) g`,
      [size],
    );
    await client.query(
      `insert into task_attempts (id, task_id, number, agent_id, driver, worker_id, started_at, ended_at, outcome,
         api_requests, input_tokens, output_tokens, cost_usd)
       select gen_random_uuid(), id, 1, 'echo', 'echo', 'bench', started_at, finished_at, outcome, 3, 12000, 800, 0.05
       from tasks`,
    );
    await client.query(
      `insert into task_events (task_id, attempt_id, type, data, created_at)
       select a.task_id, a.id, 'assistant', jsonb_build_object('n', n, 'text', 'a line of the agent''s answer'), a.started_at
       from task_attempts a cross join generate_series(1, 10) n`,
    );
    const { rows } = await client.query(
      `insert into tasks (id, type, status, priority, repository, payload, max_attempts, submitted_by, outcome,
         created_at, updated_at, started_at, finished_at)
       values (gen_random_uuid(), 'CODE_ANALYSIS', 'succeeded', 5, 'acme/long', '{"repository":"acme/long"}', 3,
         'bench', 'succeeded', now() - interval '1 day', now(), now() - interval '1 day', now())
       returning id`,
    );
    const long = rows[0].id as string;
    await client.query(
      `insert into task_events (task_id, type, data, created_at)
       select $1::uuid, 'assistant', jsonb_build_object('n', n, 'text', repeat('x', 200)), now()
       from generate_series(1, $2::int - 1) n`,
      [long, REPLAY_EVENTS],
    );
    // The stream of a finished task ends after its final status event.
    await client.query(
      `insert into task_events (task_id, type, data, created_at)
       values ($1, 'status', '{"status":"succeeded","outcome":"succeeded","error":null}', now())`,
      [long],
    );
    await client.query('vacuum analyze');
    return long;
  } finally {
    await client.end();
  }
}

function serve(url: string, port: number): Promise<ChildProcess> {
  return serveReady(port, {
    DATABASE_URL: url,
    AUTH_MODE: 'none',
    SUBMIT_RATE_PER_MINUTE: '100000',
    SUBMIT_RATE_PER_MINUTE_PER_IP: '100000',
    AGENT_DRIVER: 'echo',
    ECHO_DRIVER_DELAY_MS: '0',
    WORKER_CONCURRENCY: '4',
    SECRETS_KEY: 'a benchmark key, long enough',
    DATA_DIR: `/tmp/bench-growth-${port}`,
    LOG_LEVEL: 'warn',
  });
}

function residentMb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) / 1024;
}

async function medianMs(request: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 5; i++) await request();
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const started = performance.now();
    await request();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

async function read(url: string): Promise<string> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return response.text();
}

interface Figures {
  [operation: string]: number;
}

async function measure(size: number): Promise<Figures> {
  const url = await freshDatabase(adminUrl, `bench_growth_${size}`);
  const long = await seed(url, size);
  const port = 18_000 + (size % 1000);
  const child = await serve(url, port);
  const base = `http://127.0.0.1:${port}`;
  try {
    const [first] = JSON.parse(await read(`${base}/api/v1/tasks?limit=1`)).items as Array<{ id: string }>;
    const figures: Figures = {
      'list, first page (ms)': await medianMs(() => read(`${base}/api/v1/tasks?limit=50`)),
      'list, failed in one repository (ms)': await medianMs(() =>
        read(`${base}/api/v1/tasks?limit=50&status=failed&repository=acme/repo-7`),
      ),
      'get one task (ms)': await medianMs(() => read(`${base}/api/v1/tasks/${first!.id}`)),
      'stats summary (ms)': await medianMs(() => read(`${base}/api/v1/tasks/stats/summary`)),
      'metrics scrape (ms)': await medianMs(() => read(`${base}/api/v1/metrics`)),
    };

    const before = residentMb(child.pid!);
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, residentMb(child.pid!));
    }, 20);
    const started = performance.now();
    const stream = await read(`${base}/api/v1/tasks/${long}/events`);
    figures['SSE replay of 100k events (ms)'] = performance.now() - started;
    clearInterval(sampler);
    const sent = stream.match(/^id: /gm)?.length ?? 0;
    if (sent !== REPLAY_EVENTS) throw new Error(`the replay sent ${sent} events, not ${REPLAY_EVENTS}`);
    figures['SSE replay, supervisor memory rise (MiB)'] = peak - before;

    const submitted = performance.now();
    const ids: string[] = [];
    for (let i = 0; i < DISPATCH_TASKS; i++) {
      const response = await fetch(`${base}/api/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'CODE_ANALYSIS', payload: { repository: 'acme/new' }, priority: 5 }),
      });
      if (response.status !== 201) throw new Error(`submit: ${response.status} ${await response.text()}`);
      ids.push(((await response.json()) as { id: string }).id);
    }
    for (const id of ids) {
      for (;;) {
        const task = JSON.parse(await read(`${base}/api/v1/tasks/${id}`)) as { status: string };
        if (task.status === 'succeeded') break;
        if (task.status === 'failed') throw new Error(`task ${id} failed`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    figures['dispatch, 200 tasks submit→done (tasks/s)'] =
      (DISPATCH_TASKS / (performance.now() - submitted)) * 1000;
    return figures;
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

console.log(
  `growth: ${SIZES.join(' and ')} finished tasks (10 events each) plus one task of ${REPLAY_EVENTS} events, PostgreSQL, medians of ${REPEAT}, Node ${process.version}`,
);
const results = [];
for (const size of SIZES) {
  const started = performance.now();
  results.push(await measure(size));
  console.log(`  measured at ${size} tasks in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}
const [small, large] = results as [Figures, Figures];
const width = Math.max(...Object.keys(small).map((name) => name.length));
console.log(
  `${'operation'.padEnd(width)}  ${SIZES.map((size) => `${size} tasks`.padStart(14)).join('')}  ratio`,
);
for (const name of Object.keys(small)) {
  const ratio = large ? large[name]! / small[name]! : 1;
  console.log(
    `${name.padEnd(width)}  ${results.map((figures) => figures[name]!.toFixed(1).padStart(14)).join('')}  ${ratio.toFixed(2)}`,
  );
}
