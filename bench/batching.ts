/**
 * Batching: the same scripted workload of N ISSUE_SUMMARY tasks (each with its own title and body,
 * all `"batch": true`) run through the supervisor and the real `claude` binary twice, unbatched
 * (BATCH_SIZE=1) and batched (BATCH_SIZE=5 by default), against the scripted model server, whose
 * summariser bills input tokens by the size of each request it receives and output tokens by the
 * size of its answer (src/scripted-model/workloads.ts). Prints tokens, model requests, agent
 * sessions and wall time for both, and the ratios. The batched wall time includes the batching
 * interval, which a batch task always waits.
 *
 *   node bench/batching.ts            # N=20, BATCH_SIZE=5, interval 1 s, concurrency 2, PGlite
 *   BENCH_TASKS=40 BENCH_BATCH_SIZE=10 BENCH_INTERVAL_SECONDS=2 node bench/batching.ts
 *   DATABASE_URL=postgres://… node bench/batching.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { loadConfig } from '../src/config/load.ts';
import { isTerminal } from '../src/core/task-status.ts';
import { Supervisor } from '../src/runtime/supervisor.ts';
import { startScriptedModelServer } from '../src/scripted-model/server.ts';
import { issueSummaries, scriptedIssueSummary } from '../src/scripted-model/workloads.ts';
import { queryRows } from '../src/store/database.ts';

const tasks = Number(process.env.BENCH_TASKS ?? 20);
const batchSize = Number(process.env.BENCH_BATCH_SIZE ?? 5);
const intervalSeconds = Number(process.env.BENCH_INTERVAL_SECONDS ?? 1);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 2);

const work = mkdtempSync(join(tmpdir(), 'supervisor-batching-'));
const model = await startScriptedModelServer();

interface Round {
  ms: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  requests: number;
  sessions: number;
  succeeded: number;
  correct: number;
}

const issue = (n: number) => ({
  repository: 'owner/repo',
  issue_number: n,
  title: `Crash number ${n} when saving`,
  body: `Saving a file of ${n * 10} KiB crashes the editor with "out of memory". Steps: open, edit, save.`,
});

async function round(name: string, size: number): Promise<Round> {
  const key = `sk-bench-${name}`;
  // A generous supply of answers; unbatched needs one per task.
  model.script(key, [issueSummaries(tasks * 4)]);
  const config = loadConfig({
    env: {
      PORT: '0',
      LOG_LEVEL: 'silent',
      DATA_DIR: join(work, name),
      AGENT_DRIVER: 'claude-code',
      CLAUDE_API_KEYS: key,
      ANTHROPIC_BASE_URL: model.url,
      CLAUDE_API_RETRIES: '0',
      WORKER_CONCURRENCY: String(concurrency),
      BATCH_SIZE: String(size),
      BATCH_INTERVAL_SECONDS: String(intervalSeconds),
      DATABASE_URL: process.env.DATABASE_URL ?? '',
      // Required with DATABASE_URL; the bench's credentials are throwaway test keys.
      SECRETS_KEY: process.env.SECRETS_KEY ?? 'batching-bench-secrets-key',
    },
  });
  const supervisor = await Supervisor.start({
    // A throwaway database: its first admin token is of no use to anyone, so it is not printed.
    showAdminToken: () => {},
    config,
    logger: pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' }),
    // Listening, as `serve` does, so runs get the memory tools as in service.
  });
  try {
    const started = performance.now();
    const ids = await runAll(supervisor);
    const ms = performance.now() - started;
    const [totals] = await queryRows<{ input: number; output: number; usd: number }>(
      supervisor.database.db,
      sql`select coalesce(sum(input_tokens), 0)::int as input, coalesce(sum(output_tokens), 0)::int as output,
            coalesce(sum(cost_usd), 0)::float8 as usd from task_attempts`,
    );
    let succeeded = 0;
    let correct = 0;
    for (const [i, id] of ids.entries()) {
      const { task } = await supervisor.tasks.get(id);
      if (task.status !== 'succeeded') continue;
      succeeded += 1;
      const output = (task.result as { structured_output?: unknown } | null)?.structured_output;
      if (JSON.stringify(output) === JSON.stringify(scriptedIssueSummary(issue(i + 1).title))) correct += 1;
    }
    const requests = model.requests(
      (request) => request.credential === key && /\/v1\/messages(\?|$)/.test(request.url),
    );
    return {
      ms,
      inputTokens: totals!.input,
      outputTokens: totals!.output,
      costUsd: totals!.usd,
      requests: requests.length,
      sessions: new Set(requests.map((request) => request.sessionId)).size,
      succeeded,
      correct,
    };
  } finally {
    await supervisor.stop();
  }
}

/** Submits the workload and resolves with the task ids once every task has ended. */
async function runAll(supervisor: Supervisor): Promise<string[]> {
  const ids: string[] = [];
  const done = new Set<string>();
  let allDone!: () => void;
  const finished = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const offs: Array<() => void> = [];
  for (let n = 1; n <= tasks; n++) {
    const { task } = await supervisor.tasks.submit(
      { type: 'ISSUE_SUMMARY', payload: issue(n), priority: 5, batch: true },
      { actor: { name: 'bench' } },
    );
    ids.push(task.id);
    offs.push(
      supervisor.bus.subscribe(task.id, (message) => {
        const status = (message.data as { status?: string }).status;
        if (message.type !== 'status' || !status || !isTerminal(status as never)) return;
        done.add(task.id);
        if (done.size === tasks) allDone();
      }),
    );
  }
  await finished;
  for (const off of offs) off();
  return ids;
}

const unbatched = await round('unbatched', 1);
const batched = await round('batched', batchSize);
await model.close();
rmSync(work, { recursive: true, force: true });

console.log(
  `batching: ${tasks} ISSUE_SUMMARY tasks, BATCH_SIZE ${batchSize}, BATCH_INTERVAL_SECONDS ${intervalSeconds}, ` +
    `concurrency ${concurrency}, ${process.env.DATABASE_URL ? 'PostgreSQL' : 'embedded PGlite'}, Node ${process.version}`,
);
const line = (name: string, r: Round) =>
  `${name.padEnd(10)} ${String(r.inputTokens).padStart(9)} in ${String(r.outputTokens).padStart(7)} out ` +
  `$${r.costUsd.toFixed(4)}  ${String(r.requests).padStart(3)} requests ${String(r.sessions).padStart(3)} sessions ` +
  `${(r.ms / 1000).toFixed(2).padStart(6)} s wall  ${r.correct}/${tasks} correct results (${r.succeeded} succeeded)`;
console.log(line('unbatched', unbatched));
console.log(line('batched', batched));
const ratio = (a: number, b: number) => (b === 0 ? 'n/a' : (a / b).toFixed(3));
console.log(
  `ratio batched/unbatched: input tokens ${ratio(batched.inputTokens, unbatched.inputTokens)}, ` +
    `output tokens ${ratio(batched.outputTokens, unbatched.outputTokens)}, cost ${ratio(batched.costUsd, unbatched.costUsd)}, ` +
    `requests ${ratio(batched.requests, unbatched.requests)}, sessions ${ratio(batched.sessions, unbatched.sessions)}, ` +
    `wall ${ratio(batched.ms, unbatched.ms)}`,
);
