import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentDefinition } from '../src/agents/agent-definition.ts';
import { loadConfig } from '../src/config/load.ts';
import type { TaskSubmission } from '../src/core/task-types.ts';
import { Supervisor } from '../src/runtime/supervisor.ts';
import { queryRows } from '../src/store/database.ts';
import { getTask, insertTask, listAttempts, listEvents } from '../src/store/task-store.ts';
import { BACKENDS } from './support/databases.ts';
import { ScriptedDriver } from './support/drivers.ts';
import { startTestSupervisor, type TestSupervisor, waitForStatus } from './support/harness.ts';

const actor = { name: 'test' };
const analysis = (priority = 5, extra: Partial<TaskSubmission> = {}): TaskSubmission =>
  ({ type: 'CODE_ANALYSIS', payload: { repository: 'owner/repo' }, priority, ...extra }) as TaskSubmission;

describe.each(BACKENDS)('queue and worker on %s', (backend) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const start = async (options: Parameters<typeof startTestSupervisor>[1]) => {
    const started = await startTestSupervisor(backend, options);
    cleanups.push(started.stop);
    return started;
  };
  /** A second supervisor (worker only) on the same database, as a separate process would be. */
  const startWorker = async (
    first: TestSupervisor,
    driver: ScriptedDriver,
    env: Record<string, string> = {},
    agents?: AgentDefinition[],
  ) => {
    const config = loadConfig({
      env: {
        LOG_LEVEL: 'silent',
        CANCEL_POLL_INTERVAL_MS: '100',
        WORKER_CONCURRENCY: '1',
        AGENT_DRIVER: 'echo',
        ...env,
      },
    });
    const second = await Supervisor.start({
      config,
      logger: pino({ level: 'silent' }),
      listen: false,
      database: first.testDb.database,
      driver,
      ...(agents ? { agents } : {}),
    });
    cleanups.push(() => second.stop());
    return second;
  };

  it('writes a task and its queue job in one transaction', async () => {
    const { supervisor } = await start({ worker: false });
    const { task } = await supervisor.tasks.submit(analysis(7), { actor });
    const jobs = await queryRows(
      supervisor.database.db,
      sql`select data->>'taskId' as task_id, priority from pgboss.job where id = ${task.dispatchJobId}`,
    );
    expect(jobs).toEqual([{ task_id: task.id, priority: 7 }]);

    const id = randomUUID();
    await expect(
      supervisor.database.db.transaction(async (tx) => {
        const now = new Date();
        await insertTask(tx, {
          id,
          type: 'CODE_ANALYSIS',
          status: 'queued',
          priority: 5,
          repository: 'o/r',
          payload: { repository: 'o/r' },
          maxAttempts: 1,
          submittedBy: 'test',
          createdAt: now,
          updatedAt: now,
        });
        await supervisor.queue.dispatch(tx, id, { priority: 5 });
        throw new Error('abort the transaction');
      }),
    ).rejects.toThrow('abort the transaction');
    const left = await queryRows(
      supervisor.database.db,
      sql`select (select count(*)::int from tasks where id = ${id}) as tasks,
                 (select count(*)::int from pgboss.job where data->>'taskId' = ${id}) as jobs`,
    );
    expect(left).toEqual([{ tasks: 0, jobs: 0 }]);
  });

  it('runs queued work in priority order, most urgent first', async () => {
    const first = await start({ worker: false });
    const priorities = [3, 10, 5, 1, 8, 5];
    const ids: string[] = [];
    for (const priority of priorities)
      ids.push((await first.supervisor.tasks.submit(analysis(priority), { actor })).task.id);
    const driver = new ScriptedDriver();
    await startWorker(first, driver);
    for (const id of ids) await first.waitForStatus(id, ['succeeded']);
    const order = driver.runs.map((run) => priorities[ids.indexOf(run.taskId)]);
    expect(order).toEqual([10, 8, 5, 5, 3, 1]);
    // Equal priorities keep submission order.
    expect(driver.runs.map((run) => run.taskId).filter((id) => [ids[2], ids[5]].includes(id))).toEqual([
      ids[2],
      ids[5],
    ]);
  });

  it('retries failures with backoff and keeps every attempt', async () => {
    const driver = new ScriptedDriver({ outcomes: ['failed', 'timed_out', 'succeeded'] });
    const { supervisor, waitForStatus } = await start({ driver });
    const { task } = await supervisor.tasks.submit(analysis(5, { max_attempts: 3 }), { actor });
    const done = await waitForStatus(task.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    const attempts = await listAttempts(supervisor.database.db, task.id);
    expect(attempts.map((a) => a.outcome)).toEqual(['failed', 'timed_out', 'succeeded']);
    // Backoff: RETRY_BASE_DELAY_MS=50 with half of it fixed, so never sooner than 25 ms, then 50 ms.
    expect(attempts[1]!.startedAt.getTime() - attempts[0]!.endedAt!.getTime()).toBeGreaterThanOrEqual(25);
    expect(attempts[2]!.startedAt.getTime() - attempts[1]!.endedAt!.getTime()).toBeGreaterThanOrEqual(50);
    expect((await supervisor.tasks.get(task.id)).totals).toMatchObject({
      attempts: 3,
      inputTokens: 30,
      costUsd: 0.003,
    });
  });

  it('fails a task once its attempts are used up, and a manual retry runs it again', async () => {
    const driver = new ScriptedDriver({ outcomes: ['failed', 'failed', 'succeeded'] });
    const { supervisor, waitForStatus } = await start({ driver });
    const { task } = await supervisor.tasks.submit(analysis(5, { max_attempts: 2 }), { actor });
    const failed = await waitForStatus(task.id, ['failed', 'succeeded']);
    expect(failed).toMatchObject({
      status: 'failed',
      outcome: 'failed',
      error: 'failed on attempt 2 of 2: scripted failed',
    });

    await supervisor.tasks.retry(task.id, actor);
    const retried = await waitForStatus(task.id, ['succeeded', 'failed']);
    expect(retried.status).toBe('succeeded');
    expect((await listAttempts(supervisor.database.db, task.id)).map((a) => a.outcome)).toEqual([
      'failed',
      'failed',
      'succeeded',
    ]);
  });

  it('does not retry outcomes that retrying cannot fix', async () => {
    const driver = new ScriptedDriver({ outcomes: ['permission_denied'] });
    const { supervisor, waitForStatus } = await start({ driver });
    const { task } = await supervisor.tasks.submit(analysis(), { actor });
    const done = await waitForStatus(task.id, ['failed']);
    expect(done.error).toContain('permission_denied is not fixed by retrying');
    expect(driver.runs).toHaveLength(1);
  });

  it('holds a delayed task until its run_after time', async () => {
    const driver = new ScriptedDriver();
    const { supervisor, waitForStatus } = await start({ driver });
    const runAfter = new Date(Date.now() + 1500);
    const { task } = await supervisor.tasks.submit(analysis(5, { run_after: runAfter.toISOString() }), {
      actor,
    });
    const done = await waitForStatus(task.id, ['succeeded']);
    expect(done.startedAt!.getTime()).toBeGreaterThanOrEqual(runAfter.getTime());
  });

  it('never starts a task cancelled while queued', async () => {
    const first = await start({ worker: false });
    const { task: cancelled } = await first.supervisor.tasks.submit(analysis(9), { actor });
    const result = await first.supervisor.tasks.cancel(cancelled.id, actor);
    expect(result).toMatchObject({ stopping: false, task: { status: 'cancelled' } });
    const { task: later } = await first.supervisor.tasks.submit(analysis(1), { actor });

    const driver = new ScriptedDriver();
    await startWorker(first, driver);
    await first.waitForStatus(later.id, ['succeeded']);
    expect(driver.runs.map((run) => run.taskId)).toEqual([later.id]);
    expect(await listAttempts(first.supervisor.database.db, cancelled.id)).toEqual([]);
    await expect(first.supervisor.tasks.cancel(cancelled.id, actor)).rejects.toMatchObject({
      code: 'invalid_transition',
    });
  });

  it('stops a running task when it is cancelled', async () => {
    const driver = new ScriptedDriver({ holdUntilAborted: true });
    const { supervisor, waitForStatus } = await start({ driver });
    const { task } = await supervisor.tasks.submit(analysis(), { actor });
    await driver.started(task.id);
    const result = await supervisor.tasks.cancel(task.id, actor);
    expect(result.stopping).toBe(true);
    const done = await waitForStatus(task.id, ['cancelled', 'failed', 'succeeded']);
    expect(done.status).toBe('cancelled');
    const [attempt] = await listAttempts(supervisor.database.db, task.id);
    expect(attempt).toMatchObject({ outcome: 'cancelled', evidence: { signal: 'cancel' } });
    expect(driver.runs).toHaveLength(1);
  });

  it('hands running attempts back on shutdown without using up their attempts', async () => {
    const holding = new ScriptedDriver({ holdUntilAborted: true });
    const first = await start({ driver: holding, env: { SHUTDOWN_GRACE_SECONDS: '0' } });
    const { task } = await first.supervisor.tasks.submit(analysis(5, { max_attempts: 1 }), { actor });
    await holding.started(task.id);
    await first.supervisor.stop();
    const [attempt] = await listAttempts(first.testDb.database.db, task.id);
    expect(attempt).toMatchObject({
      outcome: 'infra_error',
      countsAgainstBudget: false,
      evidence: { signal: 'shutdown' },
    });

    const finishing = new ScriptedDriver();
    const second = await startWorker(first, finishing);
    const done = await waitForStatus(second, task.id, ['succeeded', 'failed'], 20_000);
    expect(done.status).toBe('succeeded');
    expect((await listAttempts(second.database.db, task.id)).map((a) => a.outcome)).toEqual([
      'infra_error',
      'succeeded',
    ]);
  });

  it('parks a repository’s work until tomorrow once its daily budget is spent', async () => {
    const driver = new ScriptedDriver(); // each attempt costs $0.001
    const { supervisor, waitForStatus } = await start({
      driver,
      env: { REPO_DAILY_BUDGET_USD: '0.0025', TASK_COST_ESTIMATE_USD: '0.001' },
    });
    for (let i = 0; i < 2; i++) {
      const { task } = await supervisor.tasks.submit(analysis(), { actor });
      expect((await waitForStatus(task.id, ['succeeded', 'parked'])).status).toBe('succeeded');
    }
    const { task } = await supervisor.tasks.submit(analysis(), { actor });
    const parked = await waitForStatus(task.id, ['parked', 'succeeded']);
    const midnight = new Date(Math.floor(Date.now() / 86_400_000 + 1) * 86_400_000);
    expect(parked).toMatchObject({ status: 'parked', parkedUntil: midnight, parkReason: 'budget' });
    expect(parked.parkDetail).toContain(
      'repository owner/repo has spent $0.0020 of its $0.0025 daily budget',
    );
    // Another repository is not held back.
    const other = await supervisor.tasks.submit(
      { type: 'CODE_ANALYSIS', payload: { repository: 'owner/other' }, priority: 5 } as TaskSubmission,
      { actor },
    );
    expect((await waitForStatus(other.task.id, ['succeeded', 'parked'])).status).toBe('succeeded');
  });

  it('keeps a task queued, not parked, while it waits for a busy agent’s run slot', async () => {
    const agents: AgentDefinition[] = [
      {
        id: 'one-slot',
        cli: 'claude-code',
        credential: { kind: 'api_key', value: 'key-for-one-slot' },
        limits: { models: ['m'], maxConcurrent: 1, windows: [] },
      },
    ];
    const driver = new ScriptedDriver({ holdUntilAborted: true });
    const { supervisor } = await start({ driver, agents, env: { WORKER_CONCURRENCY: '2' } });
    const { task: first } = await supervisor.tasks.submit(analysis(), { actor });
    await driver.started(first.id);
    const { task: second } = await supervisor.tasks.submit(analysis(), { actor });

    const deadline = Date.now() + 20_000;
    let waiting = await getTask(supervisor.database.db, second.id);
    while (waiting?.parkReason !== 'slot' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      waiting = await getTask(supervisor.database.db, second.id);
    }
    expect(waiting).toMatchObject({ status: 'queued', parkReason: 'slot', parkedUntil: null });
    expect(waiting!.parkDetail).toContain('one-slot: all 1 run slots busy');

    // The slot frees: the waiting task starts, and it was never reported parked.
    await supervisor.tasks.cancel(first.id, actor);
    await driver.started(second.id);
    const statuses = (await listEvents(supervisor.database.db, second.id, { limit: 100 }))
      .filter((event) => event.type === 'status')
      .map((event) => (event.data as { status: string }).status);
    expect(statuses).not.toContain('parked');
    expect((await getTask(supervisor.database.db, second.id))!.parkReason).toBeNull();
    await supervisor.tasks.cancel(second.id, actor);
  });

  it('starts no agent on a machine without the disk it needs, and says so on the waiting task', async () => {
    const driver = new ScriptedDriver({ holdUntilAborted: true });
    // More free disk than any machine has: nothing may start.
    const { supervisor } = await start({ driver, env: { AGENT_MIN_FREE_DISK_MB: '1073741824' } });
    const { task } = await supervisor.tasks.submit(analysis(), { actor });
    const deadline = Date.now() + 20_000;
    let waiting = await getTask(supervisor.database.db, task.id);
    while (waiting?.parkReason !== 'slot' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      waiting = await getTask(supervisor.database.db, task.id);
    }
    expect(waiting).toMatchObject({ status: 'queued', parkReason: 'slot' });
    expect(waiting!.parkDetail).toMatch(
      /^this worker's machine has \d+ MiB free for workspaces, below AGENT_MIN_FREE_DISK_MB \(1073741824\)/,
    );
    expect(await listAttempts(supervisor.database.db, task.id)).toEqual([]);
    expect(driver.runs).toEqual([]);
    await supervisor.tasks.cancel(task.id, actor);
  });

  it('leaves a task no agent could take parked for its own reason, whatever the machine has', async () => {
    const { supervisor, waitForStatus } = await start({
      driver: new ScriptedDriver(),
      // The budget is below one task's estimate, and the machine has no room either.
      env: {
        REPO_DAILY_BUDGET_USD: '0.0005',
        TASK_COST_ESTIMATE_USD: '0.001',
        AGENT_MIN_FREE_DISK_MB: '1073741824',
      },
    });
    const { task } = await supervisor.tasks.submit(analysis(), { actor });
    const parked = await waitForStatus(task.id, ['parked']);
    expect(parked).toMatchObject({ status: 'parked', parkReason: 'budget' });
    expect(parked.parkDetail).toContain('daily budget');
  });

  it('warns at start of a quota window smaller than one task’s estimate, and still runs a task in it', async () => {
    const lines: string[] = [];
    const agents: AgentDefinition[] = [
      {
        id: 'tiny',
        cli: 'claude-code',
        credential: { kind: 'api_key', value: 'key-for-tiny' },
        limits: {
          models: ['m'],
          maxConcurrent: 1,
          windows: [{ name: 'requests/5h', metric: 'requests', limit: 3, hours: 5, mode: 'fixed' }],
        },
      },
    ];
    const { supervisor, waitForStatus } = await start({
      driver: new ScriptedDriver(),
      agents,
      logDestination: new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
      env: { LOG_LEVEL: 'warn' },
    });
    const warning = lines.map((line) => JSON.parse(line)).find((line) => line.agentId === 'tiny');
    expect(warning).toMatchObject({ level: 40, window: 'requests/5h', limit: 3, metric: 'requests' });
    expect(warning.msg).toContain('less than one task');
    const { task } = await supervisor.tasks.submit(analysis(), { actor });
    expect((await waitForStatus(task.id, ['succeeded', 'parked'])).status).toBe('succeeded');
  });

  it('lets each worker run only its own agents (WORKER_AGENTS)', async () => {
    const agents: AgentDefinition[] = ['agent-a', 'agent-b'].map((id) => ({
      id,
      cli: 'claude-code',
      credential: { kind: 'api_key', value: `key-for-${id}` },
      limits: { models: ['m'], maxConcurrent: 1, windows: [] },
    }));
    const first = await start({ worker: false, agents });
    const [onA, onB] = [new ScriptedDriver(), new ScriptedDriver()];
    await startWorker(first, onA, { WORKER_AGENTS: 'agent-a', WORKER_CONCURRENCY: '2' }, agents);
    await startWorker(first, onB, { WORKER_AGENTS: 'agent-b', WORKER_CONCURRENCY: '2' }, agents);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++)
      ids.push((await first.supervisor.tasks.submit(analysis(), { actor })).task.id);
    for (const id of ids) await first.waitForStatus(id, ['succeeded']);
    const attempts = (
      await Promise.all(ids.map((id) => listAttempts(first.supervisor.database.db, id)))
    ).flat();
    const byWorker = new Map<string, Set<string | null>>();
    for (const attempt of attempts)
      byWorker.set(attempt.workerId, (byWorker.get(attempt.workerId) ?? new Set()).add(attempt.agentId));
    expect([...byWorker.values()].map((set) => [...set]).sort()).toEqual([['agent-a'], ['agent-b']]);
    expect(onA.runs.length + onB.runs.length).toBe(6);
  });

  it('returns the same task for a repeated idempotency key and refuses a different body', async () => {
    const { supervisor } = await start({ worker: false });
    const first = await supervisor.tasks.submit(analysis(4), { actor, idempotencyKey: 'key-1' });
    const again = await supervisor.tasks.submit(analysis(4), { actor, idempotencyKey: 'key-1' });
    expect(first.created).toBe(true);
    expect(again).toMatchObject({ created: false, task: { id: first.task.id } });
    await expect(
      supervisor.tasks.submit(analysis(6), { actor, idempotencyKey: 'key-1' }),
    ).rejects.toMatchObject({
      code: 'idempotency_key_reused',
    });
    const racing = await Promise.all(
      [1, 2, 3].map(() => supervisor.tasks.submit(analysis(2), { actor, idempotencyKey: 'key-2' })),
    );
    expect(new Set(racing.map((r) => r.task.id)).size).toBe(1);
    expect(racing.filter((r) => r.created)).toHaveLength(1);
  });
});
