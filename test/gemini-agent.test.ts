import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AgentDefinition } from '../src/agents/agent-definition.ts';
import type { TaskSubmission } from '../src/core/task-types.ts';
import type { Step } from '../src/scripted-model/steps.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { listAttempts, listEvents } from '../src/store/task-store.ts';
import { createSourceRepo } from './support/git-repo.ts';
import type { TestSupervisor } from './support/harness.ts';
import { scriptedSuite } from './support/scripted-suite.ts';
import { until } from './support/until.ts';

/**
 * Tasks on a Gemini agent, end to end with the real Gemini CLI (pinned @google/gemini-cli)
 * against the scripted model server's Gemini API: honest outcomes (result, diff, tokens, cost),
 * each failure mode of the protocol notes (shared/protocols/agent-cli.md §4), and the tools each
 * task type gets. The suite fails a test that leaves a process.
 */

const review = { summary: 'Adds one constant.', verdict: 'approve', findings: [] };

describe('Gemini agents (real Gemini CLI)', () => {
  const suite = scriptedSuite();
  let run = 0;

  const geminiAgent = (key: string): AgentDefinition => ({
    id: `gemini-${run}`,
    cli: 'gemini',
    credential: { kind: 'api_key', value: key },
    limits: { models: ['gemini-scripted'], maxConcurrent: 2, windows: [], baseUrl: suite.model.url },
  });
  const key = () => `gm-key-${++run}-${Date.now()}`;
  const start = (agents: AgentDefinition[], env: Record<string, string> = {}) =>
    suite.start({
      agents,
      env: {
        AGENT_DRIVER: 'claude-code',
        TASK_MAX_ATTEMPTS: '1',
        AGENT_IDLE_TIMEOUT_SECONDS: '120',
        PARK_RECHECK_SECONDS: '3600',
        ...env,
      },
    });
  const submit = async (test: TestSupervisor, submission: TaskSubmission) =>
    (await test.supervisor.tasks.submit(submission, { actor: { name: 'local' } })).task.id;
  const finished = (test: TestSupervisor, id: string) =>
    test.waitForStatus(id, ['succeeded', 'failed', 'parked', 'cancelled'], 120_000);
  const requestsOf = (apiKey: string) =>
    suite.model.requests((request) => request.credential === apiKey && request.body !== undefined);

  it('reviews a pull request: the structured answer, tokens and cost, recorded under gemini', async () => {
    const apiKey = key();
    suite.model.script(apiKey, [
      steps.toolUse([{ name: 'read_file', input: { file_path: 'a.js' } }], {
        usage: { input_tokens: 1200, output_tokens: 30 },
      }),
      steps.text(JSON.stringify(review), { usage: { input_tokens: 1500, output_tokens: 80 } }),
    ]);
    const test = await start([geminiAgent(apiKey)]);
    const repo = createSourceRepo({ 'a.js': 'export const a = 1;\n' });
    const id = await submit(test, {
      type: 'PR_REVIEW',
      payload: { repository: repo.path, title: 'Add a', diff: '+export const a = 1;\n' },
      priority: 5,
    });
    const task = await finished(test, id);
    expect(task).toMatchObject({ status: 'succeeded', outcome: 'succeeded' });
    expect((task.result as { structured_output: unknown }).structured_output).toEqual(review);
    const [attempt] = await listAttempts(test.supervisor.database.db, id);
    expect(attempt).toMatchObject({
      driver: 'gemini',
      model: 'gemini-scripted',
      evidence: { source: 'event', signal: 'result', value: 'success' },
      inputTokens: 2700,
      outputTokens: 110,
      apiRequests: 2,
    });
    expect(Number(attempt!.costUsd)).toBeCloseTo((2700 * 3 + 110 * 15) / 1e6, 6);
    // The file's content went back to the model; the instructions and the schema were in the prompt.
    const [first, second] = requestsOf(apiKey);
    expect(JSON.stringify(first!.body)).toContain('nobody answers questions while you work');
    expect(JSON.stringify(first!.body)).toContain('request_changes');
    expect(JSON.stringify(second!.body)).toContain('export const a = 1;');
    const events = await listEvents(test.supervisor.database.db, id, { limit: 1000 });
    expect(events.map((event) => event.type)).toContain('gemini.tool_use');
    expect(JSON.stringify(events)).not.toContain(apiKey);
  }, 180_000);

  it('fixes a bug with its edit tools and the allowed commands only; a review gets no edit tool', async () => {
    const apiKey = key();
    const outside = `/var/tmp/gemini-escape-${run}-${Date.now()}`;
    suite.model.script(apiKey, [
      // The review: an edit is not among its tools.
      steps.toolUse([{ name: 'write_file', input: { file_path: 'a.js', content: 'hacked\n' } }]),
      steps.text(JSON.stringify(review)),
      // The fix: an edit inside the worktree, one outside, an allowed command, one that is not,
      // and an allowed one that writes elsewhere by a redirection.
      steps.toolUse([{ name: 'write_file', input: { file_path: 'a.js', content: 'export const a = 2;\n' } }]),
      steps.toolUse([{ name: 'write_file', input: { file_path: outside, content: 'x\n' } }]),
      steps.toolUse([{ name: 'run_shell_command', input: { command: 'git status --short' } }]),
      steps.toolUse([{ name: 'run_shell_command', input: { command: `touch ${outside}-shell` } }]),
      steps.toolUse([{ name: 'run_shell_command', input: { command: `cat a.js > ${outside}-redirect` } }]),
      steps.text('Fixed: a is 2 now.'),
    ]);
    const test = await start([geminiAgent(apiKey)]);
    const repo = createSourceRepo({ 'a.js': 'export const a = 1;\n' });
    const reviewed = await submit(test, {
      type: 'PR_REVIEW',
      payload: { repository: repo.path, title: 'Add a', diff: '+export const a = 1;\n' },
      priority: 5,
    });
    expect(await finished(test, reviewed)).toMatchObject({ status: 'succeeded' });
    const refused = (await listEvents(test.supervisor.database.db, reviewed, { limit: 1000 })).find(
      (event) => event.type === 'gemini.tool_result',
    );
    expect(refused?.data).toMatchObject({ status: 'error', error: { type: 'tool_not_registered' } });

    const fixed = await submit(test, {
      type: 'BUG_FIX',
      payload: { repository: repo.path, description: 'a must be 2' },
      priority: 5,
    });
    const task = await finished(test, fixed);
    expect(task).toMatchObject({ status: 'succeeded', resultText: 'Fixed: a is 2 now.' });
    const workspace = (task.result as { workspace: { diff: string; files_changed: number } }).workspace;
    expect(workspace.files_changed).toBe(1);
    expect(workspace.diff).toContain('+export const a = 2;');
    const results = (await listEvents(test.supervisor.database.db, fixed, { limit: 1000 }))
      .filter((event) => event.type === 'gemini.tool_result')
      .map((event) => event.data as { status: string; output?: string; error?: { type: string } });
    expect(results).toEqual([
      expect.objectContaining({ status: 'success' }),
      expect.objectContaining({
        status: 'error',
        error: expect.objectContaining({ type: 'invalid_tool_params' }),
      }),
      expect.objectContaining({ status: 'success', output: expect.stringContaining('a.js') }),
      expect.objectContaining({
        status: 'error',
        error: expect.objectContaining({ type: 'policy_violation' }),
      }),
      expect.objectContaining({ status: 'error' }),
    ]);
    expect(existsSync(outside)).toBe(false);
    expect(existsSync(`${outside}-shell`)).toBe(false);
    expect(existsSync(`${outside}-redirect`)).toBe(false);
    expect(existsSync(join(repo.path, 'escaped'))).toBe(false);
  }, 180_000);

  const googleError = (
    status: number,
    type: string,
    message: string,
    extra: Partial<Extract<Step, { kind: 'error' }>> = {},
  ): Step => ({
    kind: 'error',
    status,
    type,
    message,
    ...extra,
  });

  it.each([
    {
      mode: 'an exhausted daily quota (not retried by the CLI): the agent is out of quota',
      step: googleError(
        429,
        'RESOURCE_EXHAUSTED',
        'Quota exceeded for metric: generate_content_requests_per_day',
        {
          details: [
            {
              '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
              violations: [{ quotaId: 'GenerateRequestsPerDayPerProjectPerModel' }],
            },
          ],
        },
      ),
      outcome: 'quota_exhausted',
      requests: 1,
      agent: { cooldowns: [{ reason: 'quota_exhausted' }] },
    },
    {
      mode: 'a 429 the CLI would retry for minutes: stopped at the second, rate limited',
      step: googleError(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).', {
        repeat: 20,
      }),
      outcome: 'rate_limited',
      evidence: { source: 'api', field: 'status', value: 429 },
      requests: 2,
      agent: { cooldowns: [{ reason: 'rate_limited' }] },
    },
    {
      mode: 'a rejected key (400 API_KEY_INVALID): the agent disabled',
      step: googleError(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', {
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }],
      }),
      outcome: 'auth_failed',
      requests: 1,
      agent: { state: 'disabled' },
    },
    {
      mode: 'an overloaded model (503) the CLI would retry for minutes: stopped at the second',
      step: googleError(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.', {
        repeat: 20,
      }),
      outcome: 'infra_error',
      evidence: { source: 'api', field: 'status', value: 503 },
      requests: 2,
      agent: { state: 'active', cooldowns: [] },
    },
    {
      mode: 'a stream that stalls: stalled',
      step: { kind: 'stall_mid_stream' } as Step,
      outcome: 'stalled',
      requests: 1,
      agent: { state: 'active', cooldowns: [] },
      env: { AGENT_IDLE_TIMEOUT_SECONDS: '5' },
    },
  ])(
    '$mode',
    async ({ step, outcome, evidence, requests, agent, env }) => {
      const apiKey = key();
      suite.model.script(apiKey, [step]);
      const test = await start([geminiAgent(apiKey)], env);
      const repo = createSourceRepo({ 'a.js': 'export const a = 1;\n' });
      const id = await submit(test, {
        type: 'CODE_ANALYSIS',
        payload: { repository: repo.path },
        priority: 5,
      });
      const attempt = await until(
        async () => {
          const [first] = await listAttempts(test.supervisor.database.db, id);
          return first?.endedAt ? first : undefined;
        },
        'the first attempt to end',
        120_000,
      );
      expect(attempt).toMatchObject({ driver: 'gemini', outcome, ...(evidence ? { evidence } : {}) });
      expect(requestsOf(apiKey)).toHaveLength(requests);
      const status = await test.supervisor.app.inject({ url: '/api/v1/agents/quota/status' });
      expect((await status.json()).items[0]).toMatchObject(agent);
    },
    180_000,
  );

  it('follows up twice in the same session: each run continues the whole conversation', async () => {
    const apiKey = key();
    suite.model.script(apiKey, [
      steps.toolUse([{ name: 'write_file', input: { file_path: 'a.js', content: 'export const a = 2;\n' } }]),
      steps.text('Fixed: a is 2 now.'),
      steps.text('It was 1 before.'),
      steps.text('Nothing else changed.'),
    ]);
    const test = await start([geminiAgent(apiKey)]);
    const repo = createSourceRepo({ 'a.js': 'export const a = 1;\n' });
    const id = await submit(test, {
      type: 'BUG_FIX',
      payload: { repository: repo.path, description: 'a must be 2' },
      priority: 5,
    });
    expect(await finished(test, id)).toMatchObject({ status: 'succeeded' });
    for (const [n, text] of [
      [2, 'What was a before?'],
      [3, 'Did anything else change?'],
    ] as const) {
      const sent = await test.supervisor.app.inject({
        method: 'POST',
        url: `/api/v1/tasks/${id}/messages`,
        payload: { text },
      });
      expect(sent.statusCode).toBe(202);
      await until(
        async () =>
          (await listAttempts(test.supervisor.database.db, id))[n - 1]?.endedAt ? true : undefined,
        `attempt ${n} to end`,
        120_000,
      );
    }
    const attempts = await listAttempts(test.supervisor.database.db, id);
    expect(attempts.map((attempt) => attempt.outcome)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(attempts[1]!.admission?.session).toMatchObject({ resumed: true, fromAttempt: attempts[0]!.id });
    expect(attempts[2]!.admission?.session).toMatchObject({ resumed: true, fromAttempt: attempts[1]!.id });
    // The third run's request carries the whole conversation: the first run's answer and the second's.
    const last = JSON.stringify(requestsOf(apiKey).at(-1)!.body);
    expect(last).toContain('Fixed: a is 2 now.');
    expect(last).toContain('What was a before?');
    expect(last).toContain('It was 1 before.');
    expect(last).toContain('Did anything else change?');
    expect(last).not.toContain('## Handing over');
  }, 180_000);
});
