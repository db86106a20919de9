import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { sealAudit } from '../src/audit/audit-log.ts';
import { generateToken } from '../src/auth/token-secret.ts';
import { startScriptedModelServer } from '../src/scripted-model/server.ts';
import type { Step } from '../src/scripted-model/steps.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { openDatabase, queryRows } from '../src/store/database.ts';
import { processesUnder } from './support/agent-processes.ts';
import { BACKENDS, freshDatabase, type TestDatabase } from './support/databases.ts';
import { createSourceRepo } from './support/git-repo.ts';
import { type ServerProcess, startServer } from './support/processes.ts';
import { type PrivateServer, startPrivatePostgres, startPrivateRedis } from './support/services.ts';

/** API replicas always need a token; every process of a cluster shares this admin token. */
const ADMIN_TOKEN = generateToken();
const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };

/**
 * Distributed mode with real processes: `supervisor api` and several `supervisor worker`s on one
 * PostgreSQL database and one Redis, as on several machines. Each test has its own database and
 * key prefix. The throughput test runs the echo driver (it is about dispatch); the fault tests run
 * the real Claude Code CLI against a scripted model server, whose every agent streams its answer
 * for a few seconds and then gives its result.
 */

/**
 * The model side of the fault tests: a session's first request is answered with `seconds` of
 * streamed text; the CLI then asks again for the structured result, which is counted: the number
 * of agents that ran to the end.
 */
function streamingAgents(seconds: number): { script: Step; finished: () => number } {
  let finished = 0;
  const script = steps.reply(
    (body) => {
      const answered = (body.messages as Array<{ role: string }>).some(
        (message) => message.role === 'assistant',
      );
      if (!answered) return steps.text('progress '.repeat(seconds * 20), { chunkDelayMs: 200 });
      finished += 1;
      return steps.toolUse([{ name: 'StructuredOutput', input: { summary: 'fine', findings: [] } }]);
    },
    { repeat: 10_000 },
  );
  return { script, finished: () => finished };
}

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const hasPostgres = BACKENDS.includes('postgres');

interface Cluster {
  api: ServerProcess;
  workers: ServerProcess[];
  /** Holds every process's DATA_DIR (worktrees, agent state). */
  dataDir: string;
}

describe.skipIf(!hasPostgres)('distributed mode', () => {
  const processes: ServerProcess[] = [];
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const child of processes.splice(0)) {
      if (child.child.exitCode === null) {
        child.child.kill('SIGKILL');
        await child.exited;
      }
    }
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const launch = async (
    databaseUrl: string,
    redisUrl: string,
    workers: number,
    env: Record<string, string>,
  ): Promise<Cluster> => {
    const dataDir = mkdtempSync(join(tmpdir(), 'distributed-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const common = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: `test-${randomUUID().slice(0, 8)}`,
      SECRETS_KEY: 'a test key that is long enough',
      ADMIN_TOKEN,
      SUBMIT_RATE_PER_MINUTE: '1000000',
      SUBMIT_RATE_PER_MINUTE_PER_IP: '1000000',
      AGENT_DRIVER: 'echo',
      LOG_LEVEL: 'warn',
      WORKER_HEARTBEAT_SECONDS: '10',
      ...env,
    };
    // The first process migrates; the rest find the schema in place.
    const api = await startServer({ ...common, DATA_DIR: join(dataDir, 'api') }, 60_000, 'api');
    processes.push(api);
    const started = await Promise.all(
      Array.from({ length: workers }, (_, i) =>
        startServer({ ...common, DATA_DIR: join(dataDir, `w${i}`) }, 60_000, 'worker'),
      ),
    );
    processes.push(...started);
    return { api, workers: started, dataDir };
  };

  /** Agents for the cluster's workers: the real CLI against a scripted model server of this test. */
  const claudeAgents = async (script: Step): Promise<Record<string, string>> => {
    const model = await startScriptedModelServer();
    cleanups.push(() => model.close());
    model.script('sk-distributed', [script]);
    return {
      AGENT_DRIVER: 'claude-code',
      CLAUDE_API_KEYS: 'sk-distributed',
      ANTHROPIC_BASE_URL: model.url,
      CLAUDE_API_RETRIES: '0',
      AGENT_IDLE_TIMEOUT_SECONDS: '120',
      REPOSITORY_SCHEMES: 'file,https',
    };
  };

  const submit = async (url: string, count: number, repository = 'owner/repo'): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < count; i += 25) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(25, count - i) }, async () => {
          const response = await fetch(`${url}/api/v1/tasks`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...AUTH },
            body: JSON.stringify({ type: 'CODE_ANALYSIS', payload: { repository } }),
          });
          expect(response.status).toBe(201);
          return ((await response.json()) as { id: string }).id;
        }),
      );
      ids.push(...batch);
    }
    return ids;
  };

  const waitAllDone = async (db: TestDatabase, count: number, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [row] = await queryRows<{ done: number }>(
        db.database.db,
        sql`select count(*)::int as done from tasks where status in ('succeeded', 'failed', 'cancelled')`,
      );
      if (row!.done >= count) return;
      if (Date.now() > deadline)
        throw new Error(`only ${row!.done} of ${count} tasks finished in ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  it('runs 300 tasks on 1 API and 3 workers, each exactly once, spread across the workers', async () => {
    const db = await freshDatabase('postgres');
    cleanups.push(() => db.drop());
    const cluster = await launch(db.url!, REDIS_URL, 3, {
      ECHO_DRIVER_DELAY_MS: '20',
      WORKER_CONCURRENCY: '4',
    });
    const ids = await submit(cluster.api.url, 300);
    await waitAllDone(db, 300, 120_000);

    const statuses = await queryRows<{ status: string; n: number }>(
      db.database.db,
      sql`select status, count(*)::int as n from tasks group by status`,
    );
    expect(statuses).toEqual([{ status: 'succeeded', n: 300 }]);
    // Exactly once: one attempt per task, one "attempt.finished" record per task.
    const attempts = await queryRows<{ task_id: string; n: number }>(
      db.database.db,
      sql`select task_id, count(*)::int as n from task_attempts group by task_id having count(*) <> 1`,
    );
    expect(attempts).toEqual([]);
    await sealAudit(db.database.db);
    const finished = await queryRows<{ n: number }>(
      db.database.db,
      sql`select count(*)::int as n from audit_log where action = 'attempt.finished'`,
    );
    expect(finished[0]!.n).toBe(300);
    // Spread: every worker process ran some of them.
    const perWorker = await queryRows<{ worker: string; n: number }>(
      db.database.db,
      sql`select split_part(worker_id, ':', 2) as worker, count(*)::int as n from task_attempts group by 1`,
    );
    expect(perWorker).toHaveLength(3);
    expect(new Set(perWorker.map((row) => Number(row.worker)))).toEqual(
      new Set(cluster.workers.map((w) => w.child.pid)),
    );
    for (const row of perWorker) expect(row.n).toBeGreaterThan(10);
    expect(ids).toHaveLength(300);
  });

  it('recovers the tasks of a worker killed with SIGKILL on the other workers, without duplicates', {
    timeout: 120_000,
  }, async () => {
    const db = await freshDatabase('postgres');
    cleanups.push(() => db.drop());
    const agents = streamingAgents(4);
    const cluster = await launch(db.url!, REDIS_URL, 3, {
      ...(await claudeAgents(agents.script)),
      WORKER_CONCURRENCY: '2',
    });
    const ids = await submit(cluster.api.url, 12, createSourceRepo({ 'a.js': '1\n' }).path);
    const victim = cluster.workers[0]!;
    // Wait until the victim holds running attempts.
    const held = await (async () => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const rows = await queryRows<{ task_id: string }>(
          db.database.db,
          sql`select task_id from task_attempts where ended_at is null and split_part(worker_id, ':', 2) = ${String(victim.child.pid)}`,
        );
        if (rows.length > 0) return rows.map((row) => row.task_id);
        if (Date.now() > deadline) throw new Error('the victim never started a task');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    victim.child.kill('SIGKILL');
    await victim.exited;

    await waitAllDone(db, 12, 90_000);
    const rows = await queryRows<{
      task_id: string;
      number: number;
      outcome: string;
      worker: string;
      evidence: { signal?: string };
    }>(
      db.database.db,
      sql`select task_id, number, outcome, split_part(worker_id, ':', 2) as worker, evidence from task_attempts order by task_id, number`,
    );
    const byTask = new Map<string, typeof rows>();
    for (const row of rows) byTask.set(row.task_id, [...(byTask.get(row.task_id) ?? []), row]);
    for (const id of ids) {
      const attempts = byTask.get(id)!;
      expect(
        attempts.filter((a) => a.outcome === 'succeeded'),
        id,
      ).toHaveLength(1);
      expect(attempts.at(-1)!.outcome).toBe('succeeded');
    }
    for (const id of held) {
      const [lost, next] = byTask.get(id)!;
      expect(lost).toMatchObject({
        outcome: 'infra_error',
        worker: String(victim.child.pid),
        evidence: { signal: 'worker_lost' },
      });
      expect(next!.worker).not.toBe(String(victim.child.pid));
    }
    const statuses = await queryRows<{ status: string; n: number }>(
      db.database.db,
      sql`select status, count(*)::int as n from tasks group by status`,
    );
    expect(statuses).toEqual([{ status: 'succeeded', n: 12 }]);
    // No agent ran to its end twice: the killed worker's agents were stopped mid-stream, and no
    // process of any attempt is left.
    expect(agents.finished()).toBe(12);
    await expect.poll(() => processesUnder(cluster.dataDir), { timeout: 5000 }).toEqual([]);
  });

  it('rides out a Redis restart and a PostgreSQL restart: tasks finish once, the SSE stream misses nothing', {
    timeout: 180_000,
  }, async () => {
    const redis = await startPrivateRedis();
    const postgres = await startPrivatePostgres();
    cleanups.push(
      () => redis.dispose(),
      () => postgres.dispose(),
    );
    const databaseUrl = postgres.url.replace(/\/postgres$/, '/supervisor');
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    await admin.query('create database supervisor');
    await admin.end();

    // Each agent streams its answer for 6 s; the first task's stream is watched through both restarts.
    const agents = streamingAgents(6);
    const cluster = await launch(databaseUrl, redis.url, 2, {
      ...(await claudeAgents(agents.script)),
      WORKER_CONCURRENCY: '2',
    });
    const repository = createSourceRepo({ 'a.js': '1\n' }).path;
    const [long] = await submit(cluster.api.url, 1, repository);
    const stream = readEvents(`${cluster.api.url}/api/v1/tasks/${long!}/events`);
    const others = await submit(cluster.api.url, 5, repository);

    await restart(redis);
    await expectUnavailableWhileDown(cluster.api.url, postgres);
    await restart(redis);

    const events = await stream;
    await waitAllDone(await openTestView(databaseUrl), others.length + 1, 60_000);
    const database = await openDatabase({ kind: 'postgres', url: databaseUrl, poolSize: 2 });
    try {
      const stored = await queryRows<{ id: number }>(
        database.db,
        sql`select id::int as id from task_events where task_id = ${long!} order by id`,
      );
      // Every stored event exactly once, in order, although Redis lost what it carried twice.
      expect(events).toEqual(stored.map((row) => row.id));
      const statuses = await queryRows<{ id: string; status: string; attempts: number }>(
        database.db,
        sql`select t.id, t.status, (select count(*)::int from task_attempts a where a.task_id = t.id and a.outcome = 'succeeded') as attempts from tasks t`,
      );
      expect(statuses).toHaveLength(others.length + 1);
      for (const task of statuses) expect(task).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect(agents.finished()).toBe(others.length + 1);
    } finally {
      await database.close();
    }
  });

  /** A read-only view of the cluster's database for waitAllDone (closed with the test). */
  async function openTestView(url: string): Promise<TestDatabase> {
    const database = await openDatabase({ kind: 'postgres', url, poolSize: 2 });
    cleanups.push(() => database.close());
    return { database, url, drop: () => database.close() };
  }

  async function restart(server: PrivateServer): Promise<void> {
    await server.stop();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await server.start();
  }

  async function expectUnavailableWhileDown(url: string, postgres: PrivateServer): Promise<void> {
    await postgres.stop();
    try {
      const response = await fetch(`${url}/api/v1/tasks`, { headers: AUTH });
      expect(response.status).toBe(503);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
        'database_unavailable',
      );
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(503);
      expect(JSON.stringify(await ready.json())).toContain('database');
    } finally {
      await postgres.start();
    }
  }

  /** The ids of every event the SSE stream delivers until the server ends it (the task finished). */
  async function readEvents(url: string): Promise<number[]> {
    const response = await fetch(url, { headers: AUTH, signal: AbortSignal.timeout(120_000) });
    const ids: number[] = [];
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body!) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const id = /^id: (\d+)$/m.exec(frame)?.[1];
        if (id) ids.push(Number(id));
      }
    }
    return ids;
  }
});
