import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { startScriptedModelServer } from '../src/scripted-model/server.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { taskAttempts } from '../src/store/schema.ts';
import { insertTask, listAttempts } from '../src/store/task-store.ts';
import { processesUnder } from './support/agent-processes.ts';
import { BACKENDS } from './support/databases.ts';
import { createSourceRepo } from './support/git-repo.ts';
import { scriptedClaudeEnv, startTestSupervisor } from './support/harness.ts';
import { pollTask, type ServerProcess, startServer } from './support/processes.ts';
import { type PrivateServer, startPrivatePostgres } from './support/services.ts';

/**
 * Faults with the real Claude Code CLI against the scripted model server, the supervisor running
 * as a real process on its own PostgreSQL server (which these tests stop and start). Each asserts
 * that no task is lost, none runs its agent to the end twice, and no attempt is counted against a
 * task's budget for the supervisor's own faults.
 */

const hasPostgres = BACKENDS.includes('postgres');
const analysis = { summary: 'fine', findings: [] };

interface AttemptJson {
  outcome: string | null;
  counts_against_budget: boolean;
  evidence: { signal?: string } | null;
}

describe.skipIf(!hasPostgres)('faults with the real Claude Code CLI', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const serve = async (env: Record<string, string>): Promise<ServerProcess> => {
    const server = await startServer(env);
    cleanups.push(async () => {
      if (server.child.exitCode === null) {
        server.child.kill('SIGKILL');
        await server.exited;
      }
    });
    return server;
  };

  it('stops an agent whose attempt was recovered elsewhere, and the recovered task runs once more', async () => {
    const model = await startScriptedModelServer();
    cleanups.push(() => model.close());
    let answers = 0;
    model.script('sk-lost', [
      steps.reply(
        (body) =>
          JSON.stringify(body.messages).includes('tool_result')
            ? // The first session's answer never comes in time; the second's at once.
              steps.toolUse([{ name: 'StructuredOutput', input: analysis }], {
                delayMs: ++answers === 1 ? 120_000 : 0,
              })
            : steps.toolUse([{ name: 'Read', input: { file_path: '{{cwd}}/a.js' } }]),
        { repeat: 100 },
      ),
    ]);
    const test = await startTestSupervisor('pglite', {
      env: {
        ...scriptedClaudeEnv(model.url, 'sk-lost'),
        AGENT_IDLE_TIMEOUT_SECONDS: '300',
        WORKER_HEARTBEAT_SECONDS: '10',
      },
    });
    cleanups.push(() => test.stop());
    const repository = createSourceRepo({ 'a.js': 'export const a = 1;\n' }).path;
    const { task } = await test.supervisor.tasks.submit(
      { type: 'CODE_ANALYSIS', payload: { repository }, priority: 5 },
      { actor: { name: 'local' } },
    );
    await expect.poll(() => model.requests().length, { timeout: 60_000 }).toBe(2);
    const [attempt] = await listAttempts(test.supervisor.database.db, task.id);
    expect(processesUnder(test.dataDir).map((p) => p.pid)).toContain(attempt!.agentPid);

    // Another process recovers the attempt (as it would after its lease was lost): closed.
    await test.supervisor.database.db
      .update(taskAttempts)
      .set({ endedAt: new Date(), outcome: 'infra_error', countsAgainstBudget: false })
      .where(eq(taskAttempts.id, attempt!.id));
    // Its worker learns at its next lease renewal and stops the agent.
    await expect
      .poll(() => processesUnder(test.dataDir).map((p) => p.pid), { timeout: 10_000 })
      .not.toContain(attempt!.agentPid);

    // The task, running with no attempt held, is recovered and runs once more, to the end.
    const done = await test.waitForStatus(task.id, ['succeeded', 'failed'], 90_000);
    expect(done.status).toBe('succeeded');
    const attempts = await listAttempts(test.supervisor.database.db, task.id);
    expect(attempts.map((a) => [a.outcome, a.countsAgainstBudget])).toEqual([
      ['infra_error', false],
      ['succeeded', true],
    ]);
    // The stopped agent asked nothing more; the second attempt resumed its session and asked once.
    expect(model.requests()).toHaveLength(3);
  }, 180_000);

  it('keeps a streaming agent alive while 8 SSE readers replay a 100k-event task from the same process', async () => {
    const model = await startScriptedModelServer();
    cleanups.push(() => model.close());
    // About 20 s of streamed text (25 deltas, 0.8 s apart); the CLI then asks for the result.
    model.script('sk-readers', [
      steps.text('word '.repeat(200), { chunkDelayMs: 800 }),
      steps.toolUse([{ name: 'StructuredOutput', input: analysis }]),
    ]);
    const test = await startTestSupervisor('pglite', {
      listen: true,
      env: {
        ...scriptedClaudeEnv(model.url, 'sk-readers'),
        AGENT_IDLE_TIMEOUT_SECONDS: '120',
        WORKER_HEARTBEAT_SECONDS: '10',
      },
    });
    cleanups.push(() => test.stop());
    const db = test.supervisor.database.db;
    const now = new Date();
    const old = await insertTask(db, {
      id: randomUUID(),
      type: 'CODE_ANALYSIS',
      status: 'succeeded',
      priority: 5,
      repository: 'acme/history',
      payload: { repository: 'acme/history' },
      maxAttempts: 3,
      submittedBy: 'local',
      createdAt: now,
      updatedAt: now,
      finishedAt: now,
    });
    await db.execute(
      sql`insert into task_events (task_id, type, data, created_at) select ${old.id}, 'assistant', jsonb_build_object('n', g, 'text', 'an event of a long run'), now() from generate_series(1, 100000) g`,
    );

    const repository = createSourceRepo({ 'a.js': 'export const a = 1;\n' }).path;
    const { task } = await test.supervisor.tasks.submit(
      { type: 'CODE_ANALYSIS', payload: { repository }, priority: 5 },
      { actor: { name: 'local' } },
    );
    const readers = Array.from({ length: 8 }, async () => {
      const response = await fetch(`${test.url}/api/v1/tasks/${old.id}/events`);
      // Counts whole SSE frames (they end with a blank line) of the seeded events.
      let events = 0;
      let partial = '';
      for await (const chunk of response.body!) {
        const frames = (partial + Buffer.from(chunk).toString('utf8')).split('\n\n');
        partial = frames.pop()!;
        events += frames.filter((frame) => frame.includes('\nevent: assistant\n')).length;
      }
      return events;
    });
    const done = await test.waitForStatus(task.id, ['succeeded', 'failed'], 180_000);
    expect(await Promise.all(readers)).toEqual(Array(8).fill(100_000));
    expect(done.status).toBe('succeeded');
    const attempts = await listAttempts(db, task.id);
    expect(attempts.map((a) => [a.outcome, a.countsAgainstBudget])).toEqual([['succeeded', true]]);
    expect(processesUnder(test.dataDir)).toEqual([]);
  }, 300_000);

  it('keeps attempts running through a PostgreSQL outage of 3 heartbeats: each agent runs once', async () => {
    const postgres: PrivateServer = await startPrivatePostgres();
    cleanups.push(() => postgres.dispose());
    const model = await startScriptedModelServer();
    cleanups.push(() => model.close());
    // Each agent reads a file, then waits 45 s for its answer: it is mid-run when the database goes
    // away, and still running when the database is back (and the queue finds a heartbeat missed).
    model.script('sk-outage', [
      steps.reply(
        (body) =>
          JSON.stringify(body.messages).includes('tool_result')
            ? steps.toolUse([{ name: 'StructuredOutput', input: analysis }], { delayMs: 45_000 })
            : steps.toolUse([{ name: 'Read', input: { file_path: '{{cwd}}/a.js' } }]),
        { repeat: 100 },
      ),
    ]);
    const DATA_DIR = mkdtempSync(join(tmpdir(), 'faults-'));
    cleanups.push(() => rmSync(DATA_DIR, { recursive: true, force: true }));
    const server = await serve({
      DATA_DIR,
      DATABASE_URL: postgres.url,
      SECRETS_KEY: 'a test key that is long enough',
      AGENT_DRIVER: 'claude-code',
      CLAUDE_API_KEYS: 'sk-outage',
      ANTHROPIC_BASE_URL: model.url,
      CLAUDE_API_RETRIES: '0',
      AGENT_IDLE_TIMEOUT_SECONDS: '120',
      WORKER_CONCURRENCY: '4',
      WORKER_HEARTBEAT_SECONDS: '10',
      LOG_LEVEL: 'warn',
    });
    const repository = createSourceRepo({ 'a.js': 'export const a = 1;\n' }).path;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await fetch(`${server.url}/api/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'CODE_ANALYSIS', payload: { repository } }),
      });
      expect(response.status).toBe(201);
      ids.push(((await response.json()) as { id: string }).id);
    }
    // Every agent has read its file and waits for its answer.
    await expect.poll(() => model.requests().length, { timeout: 60_000 }).toBe(8);

    await postgres.stop();
    await new Promise((resolve) => setTimeout(resolve, 30_000));
    await postgres.start();

    for (const id of ids) {
      const done = await pollTask<{ status: string }>(
        server.url,
        id,
        (task) => task.status !== 'running' && task.status !== 'queued',
        90_000,
      );
      expect(done.status).toBe('succeeded');
      const { items } = (await (await fetch(`${server.url}/api/v1/tasks/${id}/attempts`)).json()) as {
        items: AttemptJson[];
      };
      expect(items.map((attempt) => attempt.outcome)).toEqual(['succeeded']);
    }
    // Four agent sessions, two requests each: nothing ran twice.
    expect(new Set(model.requests().map((request) => request.sessionId)).size).toBe(4);
    expect(model.requests()).toHaveLength(8);
    expect(processesUnder(DATA_DIR)).toEqual([]);
  }, 240_000);
});
