import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AgentDefinition } from '../src/agents/agent-definition.ts';
import { sealAudit } from '../src/audit/audit-log.ts';
import type { TaskSubmission } from '../src/core/task-types.ts';
import { type ScriptedModelServer, startScriptedModelServer } from '../src/scripted-model/server.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { listAttempts } from '../src/store/task-store.ts';
import { processesUnder } from './support/agent-processes.ts';
import { createSourceRepo } from './support/git-repo.ts';
import { startTestSupervisor, type TestSupervisor } from './support/harness.ts';

/**
 * The agent pool with the real `claude` binary: three personal subscription seats of one owner, so
 * the CLI reports quota rejections as `rate_limit_event`s, as it does for real subscriptions.
 */

const analysis = { summary: 'Looks fine.', findings: [] };
const alice = { name: 'alice' };

describe('agent pool with the real Claude Code CLI', () => {
  let model: ScriptedModelServer;
  let test: TestSupervisor | undefined;
  let run = 0;

  beforeAll(async () => {
    model = await startScriptedModelServer();
  });
  afterAll(() => model.close());
  afterEach(async () => {
    if (test) {
      await test.stop();
      test = undefined;
    }
  });

  /** Three seats owned by alice, each with its own token (so its own script on the model server). */
  const seats = () => {
    run += 1;
    return ['a', 'b', 'c'].map(
      (name): AgentDefinition => ({
        id: `seat-${name}`,
        cli: 'claude-code',
        credential: { kind: 'subscription', value: `sk-ant-oat-${name}-${run}-${Date.now()}` },
        owner: 'alice',
        limits: { models: ['claude-sonnet-4-5'], maxConcurrent: 2, windows: [], baseUrl: model.url },
      }),
    );
  };
  const token = (agents: AgentDefinition[], id: string) => {
    const credential = agents.find((agent) => agent.id === id)!.credential;
    return credential.kind === 'cloud' ? '' : credential.value;
  };
  const start = async (agents: AgentDefinition[]) => {
    test = await startTestSupervisor('pglite', {
      agents,
      env: {
        AGENT_DRIVER: 'claude-code',
        CLAUDE_API_RETRIES: '0',
        TASK_MAX_ATTEMPTS: '1',
        PARK_RECHECK_SECONDS: '1',
      },
    });
    return test;
  };
  const analyse = (repository: string): TaskSubmission => ({
    type: 'CODE_ANALYSIS',
    payload: { repository },
    priority: 5,
  });

  it('fails over mid-task to another seat and resumes the same session there', async () => {
    const agents = seats();
    const resetsAt = Math.floor(Date.now() / 1000) + 600;
    model.script(token(agents, 'seat-a'), [
      steps.toolUse([{ name: 'Read', input: { file_path: '{{cwd}}/a.js' } }], {
        text: 'Reading a.js first.',
      }),
      steps.quotaExhausted(resetsAt),
    ]);
    model.script(token(agents, 'seat-b'), [steps.toolUse([{ name: 'StructuredOutput', input: analysis }])]);
    const { supervisor, waitForStatus } = await start(agents);

    const repository = createSourceRepo({ 'a.js': 'export const a = 1;\n' }).path;
    const { task } = await supervisor.tasks.submit(analyse(repository), { actor: alice });
    const done = await waitForStatus(task.id, ['succeeded', 'failed', 'parked'], 60_000);
    expect(done.status).toBe('succeeded');

    const attempts = await listAttempts(supervisor.database.db, task.id);
    expect(attempts.map((a) => [a.agentId, a.outcome, a.countsAgainstBudget])).toEqual([
      ['seat-a', 'quota_exhausted', false],
      ['seat-b', 'succeeded', true],
    ]);
    // The same agent session, continued on B with B's credential.
    expect(attempts[1]!.sessionId).toBe(attempts[0]!.sessionId);
    expect(attempts[1]!.admission).toMatchObject({
      session: { resumed: true },
      decision: { agentId: 'seat-b' },
    });
    const verdicts = (
      attempts[1]!.admission as { decision: { verdicts: Array<{ agentId: string; blockers: string[] }> } }
    ).decision.verdicts;
    expect(verdicts.find((verdict) => verdict.agentId === 'seat-a')!.blockers[0]).toMatch(
      /^cooling down \(quota_exhausted\) until /,
    );

    // B's first request carried A's conversation: the Read call and its result.
    const [first] = model.requests((r) => r.credential === token(agents, 'seat-b') && r.body !== undefined);
    const history = JSON.stringify(first!.body!.messages);
    expect(history).toContain('Reading a.js first.');
    expect(history).toContain('"type":"tool_result"');
    expect(history).toContain('export const a = 1;');
    expect(first!.sessionId).toBe(attempts[0]!.sessionId);

    // A is exhausted until the window the model named resets.
    const status = await (
      await supervisor.app.inject({ method: 'GET', url: '/api/v1/agents/quota/status' })
    ).json();
    const seatA = status.items.find((agent: { id: string }) => agent.id === 'seat-a');
    expect(seatA).toMatchObject({
      available: false,
      cooldowns: [{ model: '*', reason: 'quota_exhausted', until: new Date(resetsAt * 1000).toISOString() }],
    });
    expect(JSON.stringify(status)).not.toContain(token(agents, 'seat-a'));
    expect(processesUnder(test!.dataDir)).toEqual([]);
  });

  it('parks new work when every seat is exhausted, and starts it by itself when a reset passes', async () => {
    const agents = seats();
    // Far enough ahead for three attempts to be refused and a second task to park on a loaded machine.
    const resetsAt = Math.ceil(Date.now() / 1000) + 15;
    for (const agent of agents) {
      model.script(token(agents, agent.id), [
        steps.quotaExhausted(resetsAt),
        steps.toolUse([{ name: 'StructuredOutput', input: analysis }]),
        steps.toolUse([{ name: 'StructuredOutput', input: analysis }]),
      ]);
    }
    const { supervisor, waitForStatus } = await start(agents);
    const repository = createSourceRepo({ 'a.js': '1\n' }).path;

    // The first task meets three rejections in a row, then has nowhere to go.
    const { task: first } = await supervisor.tasks.submit(analyse(repository), { actor: alice });
    const parked = await waitForStatus(first.id, ['parked', 'failed', 'succeeded'], 60_000);
    expect(parked).toMatchObject({ status: 'parked', parkedUntil: new Date(resetsAt * 1000) });
    expect((await listAttempts(supervisor.database.db, first.id)).map((a) => [a.agentId, a.outcome])).toEqual(
      [
        ['seat-a', 'quota_exhausted'],
        ['seat-b', 'quota_exhausted'],
        ['seat-c', 'quota_exhausted'],
      ],
    );

    // A new task is parked straight away, without an attempt, and not failed.
    const { task: second } = await supervisor.tasks.submit(analyse(repository), { actor: alice });
    expect(await waitForStatus(second.id, ['parked', 'failed', 'running'], 20_000)).toMatchObject({
      status: 'parked',
    });
    expect(await listAttempts(supervisor.database.db, second.id)).toEqual([]);
    expect(Date.now()).toBeLessThan(resetsAt * 1000);

    // After the reset both run without anyone touching them.
    for (const id of [first.id, second.id]) {
      const done = await waitForStatus(id, ['succeeded', 'failed'], 60_000);
      expect(done.status).toBe('succeeded');
      expect(done.finishedAt!.getTime()).toBeGreaterThanOrEqual(resetsAt * 1000);
    }
    await sealAudit(supervisor.database.db);
    const audit = await supervisor.database.db.query.auditLog.findMany();
    expect(audit.map((row) => row.action)).toEqual(
      expect.arrayContaining(['agent.exhausted', 'pool.exhausted']),
    );
  });

  it('stops a task at its own budget, keeps its partial result and does not retry it', async () => {
    const key = `sk-budget-${Date.now()}`;
    model.script(key, [
      steps.toolUse([{ name: 'Read', input: { file_path: '{{cwd}}/calc.js' } }], {
        usage: { input_tokens: 1000, output_tokens: 20 },
      }),
      steps.toolUse(
        [{ name: 'Edit', input: { file_path: '{{cwd}}/calc.js', old_string: 'a - b', new_string: 'a + b' } }],
        { usage: { input_tokens: 1000, output_tokens: 20 } },
      ),
      // This turn alone costs $0.06: over the task's $0.05.
      steps.toolUse([{ name: 'Read', input: { file_path: '{{cwd}}/calc.js' } }], {
        usage: { input_tokens: 20_000, output_tokens: 10 },
      }),
      steps.text('unreachable'),
    ]);
    const { supervisor, waitForStatus } = await startTestSupervisor('pglite', {
      agents: [
        {
          id: 'team',
          cli: 'claude-code',
          credential: { kind: 'api_key', value: key },
          limits: { models: ['claude-sonnet-4-5'], maxConcurrent: 1, windows: [], baseUrl: model.url },
        },
      ],
      env: { AGENT_DRIVER: 'claude-code', CLAUDE_API_RETRIES: '0', TASK_MAX_ATTEMPTS: '3' },
    }).then((started) => {
      test = started;
      return started;
    });
    const repository = createSourceRepo({ 'calc.js': 'export const add = (a, b) => a - b;\n' }).path;
    const { task } = await supervisor.tasks.submit(
      {
        type: 'BUG_FIX',
        payload: { repository, description: 'add subtracts' },
        priority: 5,
        max_cost_usd: 0.05,
      },
      { actor: alice },
    );
    const done = await waitForStatus(task.id, ['failed', 'succeeded'], 60_000);
    expect(done).toMatchObject({ status: 'failed', outcome: 'budget_exceeded' });
    expect(done.error).toContain('budget_exceeded is not fixed by retrying');
    const attempts = await listAttempts(supervisor.database.db, task.id);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]!.costUsd).toBeGreaterThan(0.05);
    // The part of the work that was done is kept: the edit is on the task's branch.
    expect((done.result as { workspace: { diff: string } }).workspace.diff).toContain(
      '+export const add = (a, b) => a + b;',
    );
  });

  it('never lends a personal seat to someone else', async () => {
    const agents = seats();
    const { supervisor, waitForStatus } = await start(agents);
    const { task } = await supervisor.tasks.submit(analyse(createSourceRepo({ 'a.js': '1\n' }).path), {
      actor: { name: 'bob' },
    });
    // Parked, not failed: bob's task waits until an agent that may serve bob exists.
    const parked = await waitForStatus(task.id, ['failed', 'parked', 'succeeded'], 20_000);
    expect(parked).toMatchObject({ status: 'parked', parkReason: 'no_agent', parkedUntil: null });
    expect(parked.parkDetail).toContain('no agent can run it for bob: add one to AGENTS_FILE');
    expect(parked.parkDetail).toContain('seat-a: personal subscription seat of alice; not pooled for bob');
    expect(model.requests((r) => agents.some((agent) => token(agents, agent.id) === r.credential))).toEqual(
      [],
    );
  });
});
