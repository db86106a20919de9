import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.ts';
import type { TaskSubmission } from '../src/core/task-types.ts';
import { createLogger } from '../src/runtime/logger.ts';
import { Supervisor } from '../src/runtime/supervisor.ts';
import * as steps from '../src/scripted-model/steps.ts';
import type { TaskRow } from '../src/store/schema.ts';
import { listAttempts } from '../src/store/task-store.ts';
import { createSourceRepo } from './support/git-repo.ts';
import { type TestSupervisor, waitForStatus } from './support/harness.ts';
import { scriptedSuite } from './support/scripted-suite.ts';

/**
 * Quota and credential signals from API keys, with the real Claude Code CLI: the CLI shows an API key's quota
 * refusal only as "Request rejected (429)" and retries it, so the supervisor reads the model API's
 * response headers itself (the model API tap) and acts on them as it does on a subscription's
 * `rate_limit_event`. A rejected key disables its agent, and work waits for another rather than
 * failing. The CLI keeps its default retries here, as in production, unless a test says otherwise.
 */

const analysis = { summary: 'Looks fine.', findings: [] };
const finish = () => steps.toolUse([{ name: 'StructuredOutput', input: analysis }]);

describe('quota signals from API keys (real Claude Code CLI)', () => {
  const suite = scriptedSuite();
  let test: TestSupervisor | undefined;
  let run = 0;

  const keys = (count: number) => {
    run += 1;
    return Array.from({ length: count }, (_, i) => `sk-quota-${run}-${i + 1}-${Date.now()}`);
  };
  const start = async (apiKeys: string[], env: Record<string, string> = {}) => {
    test = await suite.start({
      env: {
        AGENT_DRIVER: 'claude-code',
        ANTHROPIC_BASE_URL: suite.model.url,
        CLAUDE_API_KEYS: apiKeys.join(','),
        AGENT_IDLE_TIMEOUT_SECONDS: '60',
        PARK_RECHECK_SECONDS: '1',
        ...env,
      },
    });
    return test;
  };
  const analyse = (): TaskSubmission => ({
    type: 'CODE_ANALYSIS',
    payload: { repository: createSourceRepo({ 'a.js': '1\n' }).path },
    priority: 5,
  });
  const submit = async () =>
    (await test!.supervisor.tasks.submit(analyse(), { actor: { name: 'local' } })).task.id;
  const requestsOf = (key: string) =>
    suite.model.requests((r) => r.credential === key && r.body !== undefined);
  const quotaStatus = async () =>
    (await (await test!.supervisor.app.inject({ url: '/api/v1/agents/quota/status' })).json())
      .items as Array<{
      id: string;
      state: string;
      available: boolean;
      cooldowns: Array<{ reason: string; until: string }>;
    }>;

  it('asks a key that answers "usage limit reached" exactly once; every task finishes on the other key', async () => {
    const [refused, good] = keys(2) as [string, string];
    const resetsAt = Math.floor(Date.now() / 1000) + 3600;
    suite.model.script(refused, [
      steps.quotaExhausted(resetsAt, 'five_hour', { message: 'usage limit reached', repeat: 100 }),
    ]);
    suite.model.script(good, Array.from({ length: 6 }, finish));
    await start([refused, good], { TASK_MAX_ATTEMPTS: '2', WORKER_CONCURRENCY: '2' });

    const first = await Promise.all([submit(), submit()]);
    for (const id of first) {
      expect((await test!.waitForStatus(id, ['succeeded', 'failed'], 90_000)).status).toBe('succeeded');
    }
    // Tasks submitted after the refusal never go to the refused key.
    const later = await Promise.all([submit(), submit(), submit(), submit()]);
    const done: TaskRow[] = [];
    for (const id of later) done.push(await test!.waitForStatus(id, ['succeeded', 'failed'], 90_000));
    expect(done.map((task) => task.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);

    expect(requestsOf(refused)).toHaveLength(1);
    const attempts = (
      await Promise.all([...first, ...later].map((id) => listAttempts(test!.supervisor.database.db, id)))
    ).flat();
    const onRefused = attempts.filter((attempt) => attempt.agentId === 'claude-1');
    expect(onRefused.length).toBeGreaterThanOrEqual(1);
    for (const attempt of onRefused) {
      expect(attempt).toMatchObject({
        outcome: 'quota_exhausted',
        countsAgainstBudget: false,
        evidence: { source: 'api', field: 'anthropic-ratelimit-unified-status', value: 'rejected' },
      });
    }
    expect(attempts.filter((attempt) => attempt.outcome === 'succeeded')).toHaveLength(6);

    const status = await quotaStatus();
    expect(status.find((agent) => agent.id === 'claude-1')).toMatchObject({
      available: false,
      cooldowns: [{ reason: 'quota_exhausted', until: new Date(resetsAt * 1000).toISOString() }],
    });
    expect(status.find((agent) => agent.id === 'claude-2')).toMatchObject({ cooldowns: [] });
  }, 180_000);

  it('parks a task whose only key is refused until the window resets, without failing it', async () => {
    const [key] = keys(1) as [string];
    const resetsAt = Math.floor(Date.now() / 1000) + 3600;
    suite.model.script(key, [
      steps.quotaExhausted(resetsAt, 'five_hour', { message: 'usage limit reached', repeat: 100 }),
    ]);
    await start([key], { TASK_MAX_ATTEMPTS: '2' });

    const id = await submit();
    const parked = await test!.waitForStatus(id, ['parked', 'failed', 'succeeded'], 60_000);
    expect(parked).toMatchObject({
      status: 'parked',
      parkReason: 'quota',
      parkedUntil: new Date(resetsAt * 1000),
    });
    // A second task parks straight away, without asking the key.
    const second = await submit();
    expect(await test!.waitForStatus(second, ['parked', 'failed', 'running'], 30_000)).toMatchObject({
      status: 'parked',
      parkReason: 'quota',
    });
    expect(await listAttempts(test!.supervisor.database.db, second)).toEqual([]);
    expect(requestsOf(key)).toHaveLength(1);
  }, 120_000);

  it('finishes every task on the other key when one key is rejected (401), failing none', async () => {
    const [bad, good] = keys(2) as [string, string];
    suite.model.script(bad, [steps.authError(100)]);
    suite.model.script(good, Array.from({ length: 4 }, finish));
    await start([bad, good], { WORKER_CONCURRENCY: '2' });

    const ids = await Promise.all([submit(), submit(), submit(), submit()]);
    for (const id of ids) {
      expect((await test!.waitForStatus(id, ['succeeded', 'failed'], 90_000)).status).toBe('succeeded');
    }
    const status = await quotaStatus();
    expect(status.find((agent) => agent.id === 'claude-1')).toMatchObject({
      state: 'disabled',
      available: false,
    });
  }, 180_000);

  it('parks every task when the only key is rejected, and runs them all after the agent is resumed', async () => {
    const [key] = keys(1) as [string];
    suite.model.script(key, [steps.authError(1), ...Array.from({ length: 3 }, finish)]);
    // No retries inside the CLI: its retry would reach the answers scripted for after the fix.
    await start([key], { CLAUDE_API_RETRIES: '0' });

    const first = await submit();
    const parked = await test!.waitForStatus(first, ['parked', 'failed', 'succeeded'], 60_000);
    expect(parked).toMatchObject({ status: 'parked', parkReason: 'no_agent', parkedUntil: null });
    expect(parked.parkDetail).toMatch(/no enabled agent can run it \(claude-1: disabled\)/);
    expect(parked.parkDetail).toContain('supervisor agents resume');
    const others = await Promise.all([submit(), submit()]);
    for (const id of others) {
      expect(await test!.waitForStatus(id, ['parked', 'failed', 'running'], 30_000)).toMatchObject({
        status: 'parked',
        parkReason: 'no_agent',
      });
    }

    const resumed = await test!.supervisor.app.inject({
      method: 'POST',
      url: '/api/v1/agents/claude-1/resume',
    });
    expect(resumed.statusCode).toBe(200);
    for (const id of [first, ...others]) {
      expect((await test!.waitForStatus(id, ['succeeded', 'failed'], 90_000)).status).toBe('succeeded');
    }
    expect(requestsOf(key)).toHaveLength(4);
  }, 180_000);

  it('re-enables an agent disabled for its key when a restart gives it a new one, and runs what waited', async () => {
    const [bad, fixed] = keys(2) as [string, string];
    suite.model.script(bad, [steps.authError(100)]);
    suite.model.script(fixed, [finish()]);
    const first = await start([bad], { CLAUDE_API_RETRIES: '0' });
    const id = await submit();
    expect(await first.waitForStatus(id, ['parked', 'failed', 'succeeded'], 60_000)).toMatchObject({
      status: 'parked',
      parkReason: 'no_agent',
    });
    await first.supervisor.stop();

    // The same database and data directory, restarted with the key fixed (the operator's fix).
    const config = loadConfig({
      env: {
        LOG_LEVEL: 'silent',
        DATA_DIR: first.dataDir,
        AGENT_DRIVER: 'claude-code',
        ANTHROPIC_BASE_URL: suite.model.url,
        CLAUDE_API_KEYS: fixed,
        CLAUDE_API_RETRIES: '0',
        AGENT_IDLE_TIMEOUT_SECONDS: '60',
      },
    });
    const second = await Supervisor.start({
      config,
      logger: createLogger(config),
      listen: false,
      database: first.testDb.database,
    });
    try {
      const done = await waitForStatus(second, id, ['succeeded', 'failed'], 90_000);
      expect(done.status).toBe('succeeded');
      const { items } = (await second.app.inject({ url: '/api/v1/agents' })).json();
      expect(items).toMatchObject([{ id: 'claude-1', state: 'active', state_reason: null }]);
    } finally {
      await second.stop();
    }
  }, 180_000);

  it('rests an agent for as long as its 429 retry-after says, and retries no earlier', async () => {
    const [key] = keys(1) as [string];
    suite.model.script(key, [steps.rateLimit(120, 100)]);
    await start([key]);

    const before = Date.now();
    const id = await submit();
    const parked = await test!.waitForStatus(id, ['parked', 'failed', 'succeeded'], 60_000);
    expect(parked).toMatchObject({ status: 'parked', parkReason: 'quota' });
    // The wait the API asked for (120 s), not the default cooldown (60 s).
    expect(parked.parkedUntil!.getTime()).toBeGreaterThanOrEqual(before + 119_000);
    const [attempt] = await listAttempts(test!.supervisor.database.db, id);
    expect(attempt).toMatchObject({
      outcome: 'rate_limited',
      evidence: { source: 'api', field: 'retry-after', value: 120 },
    });
    const [agent] = await quotaStatus();
    expect(agent).toMatchObject({ available: false, cooldowns: [{ reason: 'rate_limited' }] });
    expect(new Date(agent!.cooldowns[0]!.until).getTime()).toBeGreaterThanOrEqual(before + 119_000);
    const metrics = (await test!.supervisor.app.inject({ url: '/api/v1/metrics' })).body;
    const cooldown =
      /^supervisor_agent_cooldown_seconds\{agent="claude-1",model="[^"]+",reason="rate_limited"\} (\S+)$/m.exec(
        metrics,
      );
    expect(Number(cooldown?.[1])).toBeGreaterThan(100);
    expect(requestsOf(key)).toHaveLength(1);
  }, 120_000);
});
