import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startScriptedModelServer } from '../src/scripted-model/server.ts';
import type { Step } from '../src/scripted-model/steps.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { issueSummaries, scriptedIssueSummary } from '../src/scripted-model/workloads.ts';
import type { AttemptRow } from '../src/store/schema.ts';
import { listAttempts, listEvents } from '../src/store/task-store.ts';
import { scriptedClaudeEnv, type TestSupervisor } from './support/harness.ts';
import { freePort, pollTask, type ServerProcess, startServer } from './support/processes.ts';
import { scriptedSuite } from './support/scripted-suite.ts';

/**
 * Batching end to end: the real `claude` binary against the scripted model server, whose
 * summariser answers each issue it finds in the prompt (src/scripted-model/workloads.ts), so every
 * task's result can be checked against its own input.
 */

const issue = (n: number, extra: object = {}) => ({
  type: 'ISSUE_SUMMARY',
  payload: {
    repository: 'owner/repo',
    issue_number: n,
    title: `Crash number ${n}`,
    body: `Stack trace ${n}`,
  },
  batch: true,
  ...extra,
});

/** Sonnet: $3 per million input tokens, $15 per million output tokens. */
const sonnetUsd = (input: number, output: number) => (input * 3 + output * 15) / 1_000_000;

describe('batching read-only tasks into shared agent sessions', () => {
  const suite = scriptedSuite();
  let test: TestSupervisor | undefined;
  let keyCounter = 0;

  const start = async (script: Step[], env: Record<string, string> = {}) => {
    const key = `sk-batch-${++keyCounter}-${Date.now()}`;
    suite.model.script(key, script);
    test = await suite.start({
      listen: true,
      env: {
        ...scriptedClaudeEnv(suite.model.url, key),
        CLAUDE_API_TIMEOUT_MS: '5000',
        AGENT_IDLE_TIMEOUT_SECONDS: '20',
        BATCH_SIZE: '5',
        BATCH_INTERVAL_SECONDS: '1',
        ...env,
      },
    });
    return key;
  };
  const post = (body: unknown) =>
    fetch(`${test!.url}/api/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  /**
   * Submits the issues in one transaction (a DAG submission without edges), so all of them are
   * queued before the first job is due and the number of sessions does not depend on how fast
   * the submissions arrive.
   */
  const submitAll = async (numbers: number[]) => {
    const response = await fetch(`${test!.url}/api/v1/tasks/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tasks: numbers.map((n) => ({ key: `issue-${n}`, ...issue(n) })) }),
    });
    expect(response.status).toBe(201);
    const { ids } = (await response.json()) as { ids: Record<string, string> };
    return numbers.map((n) => ids[`issue-${n}`]!);
  };
  const getJson = async (path: string) =>
    // biome-ignore lint/suspicious/noExplicitAny: the tests read deep into JSON answers
    (await fetch(`${test!.url}${path}`)).json() as Promise<Record<string, any>>;
  const attemptsOf = async (ids: string[]) => {
    const all = new Map<string, AttemptRow[]>();
    for (const id of ids) all.set(id, await listAttempts(test!.supervisor.database.db, id));
    return all;
  };

  it('runs 10 issue summaries as at most 2 agent sessions, each task with its own result and cost share', async () => {
    const key = await start([issueSummaries(20)]);
    const ids = await submitAll([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const id of ids) await test!.waitForStatus(id, ['succeeded', 'failed'], 90_000);

    // Every task got its own summary: the one of its own title, not a neighbour's.
    for (const [i, id] of ids.entries()) {
      const task = await getJson(`/api/v1/tasks/${id}`);
      expect(task.status, JSON.stringify(task.error)).toBe('succeeded');
      expect(task.batch).toBe(true);
      expect(task.result.data.structured_output).toEqual(scriptedIssueSummary(`Crash number ${i + 1}`));
      expect(JSON.parse(task.result.text)).toEqual(scriptedIssueSummary(`Crash number ${i + 1}`));
    }

    // At most two sessions, seen from both sides: the attempts and the model server's conversations.
    const requests = suite.model.requests(
      (request) => request.credential === key && /\/v1\/messages(\?|$)/.test(request.url),
    );
    const modelSessions = new Set(requests.map((request) => request.sessionId));
    const attempts = [...(await attemptsOf(ids)).values()].flat();
    expect(attempts).toHaveLength(10);
    const sessions = new Set(attempts.map((attempt) => attempt.sessionId));
    expect(sessions.size).toBeLessThanOrEqual(2);
    expect(modelSessions.size).toBe(sessions.size);
    expect(new Set(attempts.map((a) => a.batchLeadAttemptId ?? a.id)).size).toBe(sessions.size);
    // The API says which attempt's session each item rode in.
    const [viaApi] = (await getJson(`/api/v1/tasks/${ids[9]}/attempts`)).items;
    expect(viaApi.batch_lead_attempt_id).toBe(attempts.find((a) => a.taskId === ids[9])!.batchLeadAttemptId);

    // Each session's shares add up to what the model server billed for it (tokens follow the size
    // of every request it received), and the price of those tokens.
    for (const session of sessions) {
      const members = attempts.filter((attempt) => attempt.sessionId === session);
      const billed = requests
        .filter((request) => request.sessionId === session)
        .map((request) => request.body);
      const inputTokens = billed.reduce((sum, body) => sum + Math.ceil(JSON.stringify(body).length / 4), 0);
      expect(members.reduce((sum, a) => sum + a.inputTokens, 0)).toBe(inputTokens);
      const outputTokens = members.reduce((sum, a) => sum + a.outputTokens, 0);
      expect(members.reduce((sum, a) => sum + a.costUsd, 0)).toBeCloseTo(
        sonnetUsd(inputTokens, outputTokens),
        9,
      );
      // Equal shares: no task pays more than a token over another.
      const inputs = members.map((a) => a.inputTokens);
      expect(Math.max(...inputs) - Math.min(...inputs)).toBeLessThanOrEqual(1);
    }

    // Each task's own stream shows the session it rode in, from its item to the model's result.
    for (const id of ids) {
      const types = (await listEvents(test!.supervisor.database.db, id, { afterId: 0, limit: 1000 })).map(
        (event) => event.type,
      );
      expect(types).toEqual(expect.arrayContaining(['supervisor/batch', 'system/init', 'result/success']));
    }
  }, 120_000);

  it('fails only the item the session left out, and retries it alone', async () => {
    const summarise = issueSummaries() as Extract<Step, { kind: 'reply' }>;
    const dropLast = steps.reply((body) => {
      const step = summarise.build(body) as Extract<Step, { kind: 'tool_use' }>;
      const input = step.tools[0]!.input as { results: unknown[] };
      return {
        ...step,
        tools: [{ name: 'StructuredOutput', input: { results: input.results.slice(0, -1) } }],
      };
    });
    // One run slot: the first job takes the other two along, whatever order the jobs come in.
    await start([dropLast, issueSummaries(5)], {
      BATCH_SIZE: '3',
      TASK_MAX_ATTEMPTS: '2',
      WORKER_CONCURRENCY: '1',
    });
    const ids = await submitAll([1, 2, 3]);
    for (const id of ids) await test!.waitForStatus(id, ['succeeded', 'failed'], 90_000);

    const attempts = await attemptsOf(ids);
    // The first attempts ran as one session: three items in one prompt.
    expect(new Set(ids.map((id) => attempts.get(id)![0]!.sessionId)).size).toBe(1);
    const retried = ids.filter((id) => attempts.get(id)!.length === 2);
    expect(retried).toHaveLength(1);
    const [first, second] = attempts.get(retried[0]!)!;
    expect(first).toMatchObject({
      outcome: 'no_result',
      evidence: { source: 'supervisor', signal: 'batch_item_missing' },
    });
    expect(first!.error).toMatch(/gave no result for item 3 of 3/);
    // The retry ran alone, in a session of its own.
    expect(second).toMatchObject({ outcome: 'succeeded', batchLeadAttemptId: null });
    expect(second!.sessionId).not.toBe(first!.sessionId);
    for (const [i, id] of ids.entries()) {
      const task = await getJson(`/api/v1/tasks/${id}`);
      expect(task.status).toBe('succeeded');
      expect(task.result.data.structured_output).toEqual(scriptedIssueSummary(`Crash number ${i + 1}`));
    }
  }, 120_000);

  it('ends a task cancelled in a running batch as cancelled, without a result, while the others finish', async () => {
    // The model takes its time, so the cancel lands while the shared session runs.
    await start([{ ...issueSummaries(), delayMs: 2500 }], { BATCH_SIZE: '3', WORKER_CONCURRENCY: '1' });
    const ids = await submitAll([1, 2, 3]);
    for (const id of ids) await test!.waitForStatus(id, ['running'], 30_000);
    const cancelled = ids[1]!;
    const response = await fetch(`${test!.url}/api/v1/tasks/${cancelled}/cancel`, { method: 'POST' });
    expect(response.status).toBeLessThan(300);
    for (const id of ids) await test!.waitForStatus(id, ['succeeded', 'failed', 'cancelled'], 60_000);

    const task = await getJson(`/api/v1/tasks/${cancelled}`);
    expect(task.status).toBe('cancelled');
    expect(task.result?.data ?? null).toBeNull();
    const attempts = await attemptsOf(ids);
    // All three rode in one session, so the cancel could not simply stop the agent.
    expect(new Set(ids.map((id) => attempts.get(id)![0]!.sessionId)).size).toBe(1);
    const [attempt] = attempts.get(cancelled)!;
    expect(attempt).toMatchObject({ outcome: 'cancelled', evidence: { signal: 'cancel' } });
    // It still carries its share of what the session spent.
    expect(attempt!.inputTokens).toBeGreaterThan(0);
    for (const id of [ids[0]!, ids[2]!]) {
      expect((await getJson(`/api/v1/tasks/${id}`)).status).toBe('succeeded');
    }
  }, 120_000);

  /** Submits issues as the given people, in one go; their jobs wait BATCH_INTERVAL_SECONDS for companions. */
  const submitAs = async (people: string[]) => {
    const ids: string[] = [];
    for (const [i, name] of people.entries()) {
      const submission = issue(i + 1, { priority: 5 }) as never;
      const { task } = await test!.supervisor.tasks.submit(submission, { actor: { name } });
      ids.push(task.id);
    }
    return ids;
  };
  const sessionsOf = async (ids: string[], people: string[]) => {
    const bySession = new Map<string, string[]>();
    for (const [i, id] of ids.entries()) {
      for (const attempt of (await attemptsOf([id])).get(id)!) {
        bySession.set(attempt.sessionId!, [...(bySession.get(attempt.sessionId!) ?? []), people[i]!]);
      }
    }
    return [...bySession.values()].map((members) => members.sort());
  };

  it('never puts another submitter’s task into a session, unless both share a pool', async () => {
    const people = ['alice', 'bob', 'alice', 'bob'];
    await start([issueSummaries(10)], { BATCH_INTERVAL_SECONDS: '4' });
    const ids = await submitAs(people);
    for (const id of ids)
      expect((await test!.waitForStatus(id, ['succeeded', 'failed'], 90_000)).status).toBe('succeeded');
    expect((await sessionsOf(ids, people)).sort()).toEqual([
      ['alice', 'alice'],
      ['bob', 'bob'],
    ]);
    await test!.stop();

    await start([issueSummaries(10)], { BATCH_INTERVAL_SECONDS: '4', BATCH_SHARED_SUBMITTERS: 'alice,bob' });
    const shared = await submitAs(people);
    for (const id of shared) await test!.waitForStatus(id, ['succeeded', 'failed'], 90_000);
    expect(await sessionsOf(shared, people)).toEqual([['alice', 'alice', 'bob', 'bob']]);
    // Each companion was admitted on its own and holds its own estimate while it runs.
    for (const attempt of [...(await attemptsOf(shared)).values()].flat()) {
      expect(attempt.admission).toMatchObject({ estimate: { requests: expect.any(Number) } });
    }
  }, 180_000);

  it('keeps a task off a personal seat that is not its submitter’s, even in a shared pool', async () => {
    const token = `sk-ant-oat-batch-seat-${Date.now()}`;
    suite.model.script(token, [issueSummaries(5)]);
    test = await suite.start({
      listen: true,
      agents: [
        {
          id: 'alice-seat',
          cli: 'claude-code',
          credential: { kind: 'subscription', value: token },
          owner: 'alice',
          limits: { models: ['claude-sonnet-4-5'], maxConcurrent: 2, windows: [], baseUrl: suite.model.url },
        },
      ],
      env: {
        AGENT_DRIVER: 'claude-code',
        CLAUDE_API_RETRIES: '0',
        AGENT_IDLE_TIMEOUT_SECONDS: '20',
        BATCH_SIZE: '5',
        BATCH_INTERVAL_SECONDS: '4',
        BATCH_SHARED_SUBMITTERS: 'alice,bob',
      },
    });
    const [alices, bobs] = await submitAs(['alice', 'bob']);
    expect((await test!.waitForStatus(alices!, ['succeeded', 'failed'], 90_000)).status).toBe('succeeded');
    // Bob's task did not ride along on alice's seat: it waits for an agent that may serve bob.
    const parked = await test!.waitForStatus(bobs!, ['parked', 'succeeded', 'failed'], 30_000);
    expect(parked).toMatchObject({ status: 'parked', parkReason: 'no_agent' });
    expect(await listAttempts(test!.supervisor.database.db, bobs!)).toEqual([]);
    expect(new Set(suite.model.requests((r) => r.credential === token).map((r) => r.sessionId)).size).toBe(1);
  }, 120_000);

  it('refuses batch on a mutating type and with a task’s own limits, naming the field', async () => {
    await start([]);
    const mutating = await post({
      type: 'BUG_FIX',
      payload: { repository: 'owner/repo', description: 'Fix the crash' },
      batch: true,
    });
    expect(mutating.status).toBe(400);
    const body = (await mutating.json()) as { error: { message: string } };
    expect(body.error.message).toContain('body.batch');
    expect(body.error.message).toContain('only read-only task types');

    const limited = await post(issue(1, { max_cost_usd: 1 }));
    expect(limited.status).toBe(400);
    expect(((await limited.json()) as { error: { message: string } }).error.message).toMatch(
      /body\.batch: .*max_cost_usd/,
    );

    const inDag = await fetch(`${test!.url}/api/v1/tasks/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        tasks: [
          {
            key: 'fix',
            type: 'FEATURE',
            payload: { repository: 'owner/repo', description: 'd' },
            batch: true,
          },
        ],
      }),
    });
    expect(inDag.status).toBe(400);
    expect(((await inDag.json()) as { error: { message: string } }).error.message).toContain(
      'body.tasks.0.batch',
    );
  });
});

describe('a batch whose supervisor is killed', () => {
  const servers: ServerProcess[] = [];
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      if (server.child.exitCode === null) {
        server.child.kill('SIGKILL');
        await server.exited;
      }
    }
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('recovers every task of the batch, each retried alone', async () => {
    const model = await startScriptedModelServer();
    cleanups.push(() => model.close());
    // The batch's request never gets an answer; the retries do.
    model.script('sk-batch-killed', [{ kind: 'hang' }, issueSummaries(3)]);
    const DATA_DIR = mkdtempSync(join(tmpdir(), 'supervisor-batch-'));
    cleanups.push(() => rmSync(DATA_DIR, { recursive: true, force: true, maxRetries: 5 }));
    const env = {
      DATA_DIR,
      PORT: String(await freePort()),
      AGENT_DRIVER: 'claude-code',
      CLAUDE_API_KEYS: 'sk-batch-killed',
      ANTHROPIC_BASE_URL: model.url,
      CLAUDE_API_TIMEOUT_MS: '600000',
      CLAUDE_API_RETRIES: '0',
      BATCH_SIZE: '3',
      BATCH_INTERVAL_SECONDS: '1',
      WORKER_CONCURRENCY: '1',
    };
    const first = await startServer(env);
    servers.push(first);
    // One transaction and one run slot: the three are one batch.
    const response = await fetch(`${first.url}/api/v1/tasks/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tasks: [1, 2, 3].map((n) => ({ key: `issue-${n}`, ...issue(n) })) }),
    });
    const { ids: byKey } = (await response.json()) as { ids: Record<string, string> };
    const ids = [1, 2, 3].map((n) => byKey[`issue-${n}`]!);
    for (const id of ids)
      await pollTask<{ status: string }>(first.url, id, (task) => task.status === 'running');
    // All three are in the one session that hangs when the supervisor dies.
    const deadline = Date.now() + 30_000;
    while (model.requests((request) => request.credential === 'sk-batch-killed').length === 0) {
      if (Date.now() > deadline) throw new Error('the batch never reached the model');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await startServer(env);
    servers.push(second);
    for (const [i, id] of ids.entries()) {
      const done = await pollTask<{ status: string; result: { data: { structured_output: unknown } } }>(
        second.url,
        id,
        (task) => task.status === 'succeeded' || task.status === 'failed',
        60_000,
      );
      const attemptsNow = await (await fetch(`${second.url}/api/v1/tasks/${id}/attempts`)).text();
      expect(done.status, `${JSON.stringify(done)}\n${attemptsNow}`).toBe('succeeded');
      expect(done.result.data.structured_output).toEqual(scriptedIssueSummary(`Crash number ${i + 1}`));
      const { items } = (await (await fetch(`${second.url}/api/v1/tasks/${id}/attempts`)).json()) as {
        items: Array<{ outcome: string; session_id: string; evidence: { signal: string } }>;
      };
      expect(items.map((a) => [a.outcome, a.evidence.signal])).toEqual([
        ['infra_error', 'worker_lost'],
        ['succeeded', expect.any(String)],
      ]);
    }
    // The lost batch was one session; the three retries ran alone, one session each.
    const sessions = model
      .requests((request) => request.credential === 'sk-batch-killed')
      .map((r) => r.sessionId);
    expect(sessions).toHaveLength(4);
    expect(new Set(sessions).size).toBe(4);
  }, 180_000);
});
