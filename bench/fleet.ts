/**
 * A fleet on one small machine: BENCH_AGENTS (32) scripted agents at once, each a real `claude`
 * process on its own credential, through one `supervisor serve`, and the share of the run's CPU the
 * supervisor itself took. The baseline is the agents' own CPU in the same run: the supervisor's
 * share is its CPU (with the database's, embedded or server) over that plus theirs (target < 10 %).
 *
 *   node bench/fleet.ts                 # 32 agents, one task each, embedded PGlite
 *   DATABASE_URL=postgres://… node bench/fleet.ts   # the database server's CPU is counted too
 *   BENCH_AGENTS=16 BENCH_MODEL_DELAY_MS=3000 node bench/fleet.ts
 *   BENCH_PROFILE_DIR=<dir>             # the supervisor writes a CPU profile there when it stops
 *
 * Each agent reads a file and answers, the model taking BENCH_MODEL_DELAY_MS (2 s) per reply, as a
 * real model takes seconds. CPU comes from /proc: the supervisor process's own time, the time of
 * the processes it started and reaped (the agents and their tools), and with DATABASE_URL every
 * `postgres` process's (so run nothing else on that server meanwhile).
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startScriptedModelServer } from '../src/scripted-model/server.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { benchRepository, serveReady } from './support.ts';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 32);
const DELAY_MS = Number(process.env.BENCH_MODEL_DELAY_MS ?? 2000);
const PORT = 18_500;
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

const work = mkdtempSync(join(tmpdir(), 'supervisor-fleet-'));
const repository = benchRepository(work);

const model = await startScriptedModelServer();
const keys = Array.from({ length: AGENTS }, (_, i) => `sk-fleet-${i + 1}`);
for (const key of keys) {
  model.script(key, [
    steps.toolUse([{ name: 'Read', input: { file_path: '{{cwd}}/app.js' } }], { delayMs: DELAY_MS }),
    steps.toolUse([{ name: 'StructuredOutput', input: { summary: 'Nothing alarming.', findings: [] } }], {
      delayMs: DELAY_MS,
    }),
  ]);
}

/** CPU seconds of a process itself, and of the children it has reaped (/proc/<pid>/stat). */
function cpuOf(pid: number): { self: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  // After the name: state is field 3, so utime (14) is index 11, stime 12, cutime 13, cstime 14.
  return {
    self: (fields[11]! + fields[12]!) / TICKS_PER_SECOND,
    children: (fields[13]! + fields[14]!) / TICKS_PER_SECOND,
  };
}

/** CPU seconds of every PostgreSQL server process, and of the backends they have reaped. */
function postgresCpu(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue;
      const { self, children } = cpuOf(Number(entry));
      total += self + children;
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}

const databaseUrl = process.env.DATABASE_URL;

function serve(): Promise<ChildProcess> {
  const profile = process.env.BENCH_PROFILE_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
    : [];
  return serveReady(
    PORT,
    {
      DATA_DIR: join(work, 'data'),
      AUTH_MODE: 'none',
      SUBMIT_RATE_PER_MINUTE: '100000',
      SUBMIT_RATE_PER_MINUTE_PER_IP: '100000',
      AGENT_DRIVER: 'claude-code',
      ANTHROPIC_BASE_URL: model.url,
      CLAUDE_API_KEYS: keys.join(','),
      CLAUDE_CONCURRENCY_PER_AGENT: '1',
      CLAUDE_API_RETRIES: '0',
      WORKER_CONCURRENCY: String(AGENTS),
      LOG_LEVEL: 'warn',
      ...(databaseUrl ? { DATABASE_URL: databaseUrl, SECRETS_KEY: 'a benchmark key, long enough' } : {}),
    },
    profile,
  );
}

const base = `http://127.0.0.1:${PORT}/api/v1`;
const child = await serve();
try {
  const before = cpuOf(child.pid!);
  const databaseBefore = databaseUrl ? postgresCpu() : 0;
  const started = performance.now();
  const ids: string[] = [];
  for (let i = 0; i < AGENTS; i++) {
    const response = await fetch(`${base}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'CODE_ANALYSIS', payload: { repository }, priority: 5 }),
    });
    if (response.status !== 201) throw new Error(`submit: ${response.status} ${await response.text()}`);
    ids.push(((await response.json()) as { id: string }).id);
  }
  const statuses = new Map<string, string>();
  let peakRunning = 0;
  while (statuses.size < ids.length) {
    const page = (await (await fetch(`${base}/tasks?limit=${AGENTS}`)).json()) as {
      items: Array<{ id: string; status: string }>;
    };
    peakRunning = Math.max(peakRunning, page.items.filter((task) => task.status === 'running').length);
    for (const task of page.items) {
      if (['succeeded', 'failed', 'cancelled'].includes(task.status)) statuses.set(task.id, task.status);
    }
    // Once a second: the polling is the bench's load on the supervisor, not the fleet's.
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const after = cpuOf(child.pid!);
  const databaseCpu = databaseUrl ? postgresCpu() - databaseBefore : 0;
  const supervisorCpu = after.self - before.self + databaseCpu;
  const agentsCpu = after.children - before.children;
  const succeeded = [...statuses.values()].filter((status) => status === 'succeeded').length;
  console.log(
    `fleet: ${AGENTS} scripted agents (real claude, one credential each), one task each, model replies after ${DELAY_MS} ms, ${databaseUrl ? 'PostgreSQL' : 'embedded PGlite'}, Node ${process.version}`,
  );
  console.log(
    `  ${succeeded}/${AGENTS} succeeded, at most ${peakRunning} running at once, ${wallSeconds.toFixed(1)} s wall`,
  );
  console.log(
    `  CPU: agents and their tools ${agentsCpu.toFixed(1)} s, supervisor ${supervisorCpu.toFixed(1)} s (${((supervisorCpu / AGENTS) * 1000).toFixed(0)} ms per task${databaseUrl ? `, of which the PostgreSQL server ${databaseCpu.toFixed(1)} s` : ''})`,
  );
  console.log(
    `  supervisor share of the run's CPU: ${((100 * supervisorCpu) / (supervisorCpu + agentsCpu)).toFixed(1)} % (target < 10 %)`,
  );
} finally {
  child.kill('SIGTERM');
  await once(child, 'exit');
  await model.close();
  rmSync(work, { recursive: true, force: true });
}
