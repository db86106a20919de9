import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AgentDefinition } from '../src/agents/agent-definition.ts';
import type { TaskSubmission } from '../src/core/task-types.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { listAttempts, listEvents } from '../src/store/task-store.ts';
import { createSourceRepo } from './support/git-repo.ts';
import type { TestSupervisor } from './support/harness.ts';
import { scriptedSuite } from './support/scripted-suite.ts';
import { until } from './support/until.ts';

/**
 * Tasks on a Codex agent, end to end with the real Codex CLI (pinned @openai/codex) against the
 * scripted model server's Responses API: honest outcomes (result, diff, tokens, cost), each
 * failure mode of the protocol notes (shared/protocols/agent-cli.md §3), the sandbox per task
 * type, and a follow-up that resumes the thread. The suite fails a test that leaves a process.
 */

const review = { summary: 'Adds one constant.', verdict: 'approve', findings: [] };

describe('Codex agents (real Codex CLI)', () => {
  const suite = scriptedSuite();
  let run = 0;

  const codexAgent = (key: string, extra: Partial<AgentDefinition['limits']> = {}): AgentDefinition => ({
    id: `codex-${run}`,
    cli: 'codex',
    credential: { kind: 'api_key', value: key },
    limits: {
      models: ['gpt-scripted'],
      maxConcurrent: 2,
      windows: [],
      baseUrl: `${suite.model.url}/v1`,
      ...extra,
    },
  });
  const key = () => `sk-codex-${++run}-${Date.now()}`;
  const start = (agents: AgentDefinition[], env: Record<string, string> = {}) =>
    suite.start({
      agents,
      env: {
        AGENT_DRIVER: 'claude-code',
        CLAUDE_API_RETRIES: '0',
        TASK_MAX_ATTEMPTS: '1',
        // Load on the machine must not trip it: a stall is the stream's own idle limit below.
        AGENT_IDLE_TIMEOUT_SECONDS: '120',
        ...env,
      },
    });
  const submit = async (test: TestSupervisor, submission: TaskSubmission) =>
    (await test.supervisor.tasks.submit(submission, { actor: { name: 'local' } })).task.id;
  const finished = (test: TestSupervisor, id: string) =>
    test.waitForStatus(id, ['succeeded', 'failed', 'parked', 'cancelled'], 120_000);

  it('reviews a pull request: the structured answer, tokens and cost, recorded under codex', async () => {
    const apiKey = key();
    suite.model.script(apiKey, [
      steps.toolUse([{ name: 'exec_command', input: { cmd: 'cat a.js' } }], {
        usage: { input_tokens: 1200, output_tokens: 30 },
      }),
      steps.text(JSON.stringify(review), { usage: { input_tokens: 1500, output_tokens: 80 } }),
    ]);
    const test = await start([codexAgent(apiKey)]);
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
      driver: 'codex',
      agentId: `codex-${run}`,
      model: 'gpt-scripted',
      outcome: 'succeeded',
      evidence: { source: 'event', signal: 'turn.completed' },
      inputTokens: 2700,
      outputTokens: 110,
      apiRequests: 2,
    });
    // Priced by the supervisor's table (an unknown model: the fallback price, flagged as such).
    expect(Number(attempt!.costUsd)).toBeCloseTo((2700 * 3 + 110 * 15) / 1e6, 6);
    expect(attempt!.sessionId).toMatch(/^[0-9a-f-]{36}$/);

    const events = await listEvents(test.supervisor.database.db, id, { limit: 1000 });
    const command = events.find((event) => event.type === 'item.completed/command_execution');
    expect(command?.data).toMatchObject({
      item: { aggregated_output: 'export const a = 1;\n', exit_code: 0 },
    });
    // What it was told and how: the model saw the review instructions; the key went nowhere else.
    const [first] = suite.model.requests((request) => request.credential === apiKey);
    const sent = JSON.stringify(first!.body);
    expect(sent).toContain('Add a');
    expect(sent).toContain('nobody answers questions while you work'); // developer instructions
    expect(sent).toContain('request_changes'); // the review schema, as the response format
    expect(sent).toMatch(/read-only/); // Codex tells the model its sandbox
    expect(JSON.stringify(events)).not.toContain(apiKey);
  }, 180_000);

  it('fixes a bug: the change is committed on the task branch, with its diff', async () => {
    const apiKey = key();
    suite.model.script(apiKey, [
      steps.toolUse([{ name: 'exec_command', input: { cmd: "printf 'export const a = 2;\\n' > a.js" } }]),
      steps.text('Fixed: a is 2 now.'),
    ]);
    const test = await start([codexAgent(apiKey)]);
    const repo = createSourceRepo({ 'a.js': 'export const a = 1;\n' });
    const id = await submit(test, {
      type: 'BUG_FIX',
      payload: { repository: repo.path, description: 'a must be 2' },
      priority: 5,
    });
    const task = await finished(test, id);
    expect(task).toMatchObject({ status: 'succeeded', outcome: 'succeeded' });
    const workspace = (task.result as { workspace: { diff: string; files_changed: number; branch: string } })
      .workspace;
    expect(workspace.files_changed).toBe(1);
    expect(workspace.diff).toContain('+export const a = 2;');
    expect(task.resultText).toBe('Fixed: a is 2 now.');
  }, 180_000);

  const openAiError = (status: number, type: string, message: string, headers?: Record<string, string>) =>
    ({ kind: 'error', status, type, message, ...(headers ? { headers } : {}) }) as const;

  it.each([
    {
      mode: 'a 429 that asks for a long wait: stopped at once, the agent rests that long',
      step: openAiError(429, 'rate_limit_exceeded', 'Rate limit reached', { 'retry-after': '45' }),
      outcome: 'rate_limited',
      evidence: { source: 'api', field: 'retry-after', value: 45 },
      agent: { cooldowns: [{ reason: 'rate_limited' }] },
      retryAfterMs: 45_000,
    },
    {
      mode: 'a 429 with a short wait the CLI gave up on: rate limited, by the status the tap saw',
      step: openAiError(429, 'rate_limit_exceeded', 'Rate limit reached', { 'retry-after': '1' }),
      outcome: 'rate_limited',
      evidence: { source: 'api', field: 'status', value: 429 },
      agent: { cooldowns: [{ reason: 'rate_limited' }] },
      retryAfterMs: 1000,
    },
    {
      mode: 'an exhausted quota (insufficient_quota): the agent is out of quota',
      step: openAiError(429, 'insufficient_quota', 'You exceeded your current quota'),
      outcome: 'quota_exhausted',
      evidence: { source: 'event', signal: 'turn.failed', value: 'Quota exceeded' },
      agent: { cooldowns: [{ reason: 'quota_exhausted' }] },
    },
    {
      mode: 'a rejected key (401): stopped at once, the agent disabled',
      step: openAiError(401, 'invalid_api_key', 'Incorrect API key provided'),
      outcome: 'auth_failed',
      evidence: { source: 'api', field: 'status', value: 401 },
      agent: { state: 'disabled' },
    },
    {
      mode: 'a server error (500): the API’s trouble, the agent unharmed',
      step: openAiError(500, 'server_error', 'The server had an error'),
      outcome: 'infra_error',
      evidence: { source: 'api', field: 'status', value: 500 },
      agent: { state: 'active', cooldowns: [] },
    },
    {
      mode: 'a stream that stalls: stalled',
      step: { kind: 'stall_mid_stream' } as const,
      outcome: 'stalled',
      agent: { state: 'active', cooldowns: [] },
      // Only this run goes quiet on purpose: its idle limit is short.
      env: { AGENT_IDLE_TIMEOUT_SECONDS: '5' },
    },
  ])(
    '$mode',
    async ({ step, outcome, evidence, agent, retryAfterMs, env }) => {
      const apiKey = key();
      suite.model.script(apiKey, [step]);
      const test = await start([codexAgent(apiKey)], { PARK_RECHECK_SECONDS: '3600', ...env });
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
      expect(attempt).toMatchObject({ driver: 'codex', outcome, ...(evidence ? { evidence } : {}) });

      // The CLI's own retries are off: one request, or none more after a refusal.
      expect(
        suite.model.requests((request) => request.credential === apiKey && request.body !== undefined),
      ).toHaveLength(1);
      const status = await test.supervisor.app.inject({ url: '/api/v1/agents/quota/status' });
      const [seen] = (await status.json()).items as Array<Record<string, unknown>>;
      expect(seen).toMatchObject(agent);
      if (retryAfterMs) {
        // The agent rests as long as the response asked (the cooldown starts when the attempt ends).
        const rest =
          Date.parse((seen!.cooldowns as Array<{ until: string }>)[0]!.until) - attempt.endedAt!.getTime();
        expect(rest).toBeGreaterThan(retryAfterMs - 2000);
        expect(rest).toBeLessThan(retryAfterMs + 2000);
      }
    },
    180_000,
  );

  it('keeps each task type in its sandbox: a review writes nothing, a fix writes only its worktree', async () => {
    const apiKey = key();
    const outside = `/var/tmp/codex-escape-${run}-${Date.now()}`;
    const repo = createSourceRepo({ 'a.js': 'export const a = 1;\n' });
    suite.model.script(apiKey, [
      steps.toolUse([
        { name: 'exec_command', input: { cmd: `echo hacked > a.js; echo hacked > ${outside}-review` } },
      ]),
      steps.text(JSON.stringify(review)),
    ]);
    const test = await start([codexAgent(apiKey)]);
    const reviewed = await submit(test, {
      type: 'PR_REVIEW',
      payload: { repository: repo.path, title: 'Add a', diff: '+export const a = 1;\n' },
      priority: 5,
    });
    expect(await finished(test, reviewed)).toMatchObject({ status: 'succeeded' });
    // Codex refuses inside its sandbox and tells the model so (it emits no item for the call).
    const told = suite.model.requests((request) => request.credential === apiKey).at(-1)!.body!
      .input as Array<{
      type: string;
      output?: unknown;
    }>;
    const output = JSON.stringify(told.find((item) => item.type === 'function_call_output')?.output);
    expect(output).toContain('Read-only file system');
    expect(existsSync(`${outside}-review`)).toBe(false);

    // The same agent, once the review is done.
    suite.model.script(apiKey, [
      steps.toolUse([
        {
          name: 'exec_command',
          input: {
            cmd: `printf 'export const b = 2;\\n' > b.js; echo x > ${join(repo.path, 'escaped.txt')}; echo y > ${outside}-fix; echo z > /tmp/codex-escape-${run}`,
          },
        },
      ]),
      steps.text('Added b.'),
    ]);
    const fixed = await submit(test, {
      type: 'BUG_FIX',
      payload: { repository: repo.path, description: 'add b' },
      priority: 5,
    });
    const task = await finished(test, fixed);
    expect(task).toMatchObject({ status: 'succeeded' });
    const workspace = (task.result as { workspace: { diff: string; files_changed: number } }).workspace;
    expect(workspace).toMatchObject({ files_changed: 1 });
    expect(workspace.diff).toContain('+export const b = 2;');
    expect(existsSync(join(repo.path, 'escaped.txt'))).toBe(false);
    expect(existsSync(`${outside}-fix`)).toBe(false);
    expect(existsSync(`/tmp/codex-escape-${run}`)).toBe(false);
  }, 180_000);

  it('follows up a finished fix in the same thread: the model sees the first run, the run is charged alone', async () => {
    const apiKey = key();
    suite.model.script(apiKey, [
      steps.toolUse(
        [{ name: 'exec_command', input: { cmd: "printf 'exports.add = (a, b) => a + b;\\n' > calc.js" } }],
        {
          usage: { input_tokens: 1000, output_tokens: 50 },
        },
      ),
      steps.text('Fixed add().', { usage: { input_tokens: 1100, output_tokens: 20 } }),
      steps.toolUse([{ name: 'exec_command', input: { cmd: "printf 'test\\n' > calc.test.js" } }], {
        usage: { input_tokens: 1300, output_tokens: 40 },
      }),
      steps.text('Added a test.', { usage: { input_tokens: 1400, output_tokens: 10 } }),
    ]);
    const test = await start([codexAgent(apiKey)]);
    const repo = createSourceRepo({ 'calc.js': 'exports.add = (a, b) => a - b;\n' });
    const id = await submit(test, {
      type: 'BUG_FIX',
      payload: { repository: repo.path, description: 'add() subtracts' },
      priority: 5,
    });
    expect(await finished(test, id)).toMatchObject({ status: 'succeeded' });
    const message = await test.supervisor.app.inject({
      method: 'POST',
      url: `/api/v1/tasks/${id}/messages`,
      payload: { text: 'Also add a test for add().' },
    });
    expect(message.statusCode).toBe(202);
    await until(
      async () => ((await listAttempts(test.supervisor.database.db, id))[1]?.endedAt ? true : undefined),
      'the follow-up run to end',
      120_000,
    );
    const task = await finished(test, id);
    expect(task).toMatchObject({ status: 'succeeded', resultText: 'Added a test.' });
    const workspace = (task.result as { workspace: { commits: unknown[]; files_changed: number } }).workspace;
    expect(workspace).toMatchObject({ files_changed: 2 });
    expect(workspace.commits).toHaveLength(2);

    const [first, second] = await listAttempts(test.supervisor.database.db, id);
    expect(second!.sessionId).toBe(first!.sessionId);
    expect(second!.admission?.session).toMatchObject({ resumed: true, fromAttempt: first!.id });
    // Codex reports the thread's totals; each attempt is charged its own requests.
    expect(first).toMatchObject({ inputTokens: 2100, outputTokens: 70, apiRequests: 2 });
    expect(second).toMatchObject({ inputTokens: 2700, outputTokens: 50, apiRequests: 2 });
    const resumed = JSON.stringify(
      suite.model.requests((request) => request.credential === apiKey)[2]!.body!.input,
    );
    expect(resumed).toContain('Fixed add().');
    expect(resumed).toContain('Also add a test for add().');
  }, 180_000);

  it('never runs a task under an approval rule on Codex, which cannot ask a person mid-run', async () => {
    const apiKey = key();
    const dir = mkdtempSync(join(tmpdir(), 'codex-policy-'));
    const policy = join(dir, 'approvals.yaml');
    writeFileSync(policy, 'rules:\n  - ask:\n      bash: [node]\n');
    const test = await start([codexAgent(apiKey)], { APPROVAL_POLICY_FILE: policy });
    const repo = createSourceRepo({ 'a.js': 'export const a = 1;\n' });
    const id = await submit(test, {
      type: 'BUG_FIX',
      payload: { repository: repo.path, description: 'a must be 2' },
      priority: 5,
    });
    const parked = await finished(test, id);
    expect(parked).toMatchObject({ status: 'parked', parkReason: 'no_agent' });
    expect(parked.parkDetail).toContain('no agent runs claude-code for local');
    expect(parked.parkDetail).toContain(`codex-${run}: runs codex, not claude-code`);
    expect(suite.model.requests((request) => request.credential === apiKey)).toHaveLength(0);
  }, 180_000);

  it('charges a run stopped midway what it used, and stops it at its budget as the use comes in', async () => {
    const apiKey = key();
    suite.model.script(apiKey, [
      // $3.75 at the price of an unknown model: over the task's $1 before the next request.
      steps.toolUse([{ name: 'exec_command', input: { cmd: 'cat a.js' } }], {
        usage: { input_tokens: 1_000_000, output_tokens: 50_000 },
      }),
      { kind: 'hang' },
    ]);
    const test = await start([codexAgent(apiKey)]);
    const repo = createSourceRepo({ 'a.js': 'export const a = 1;\n' });
    const id = await submit(test, {
      type: 'CODE_ANALYSIS',
      payload: { repository: repo.path },
      priority: 5,
      max_cost_usd: 1,
    });
    const attempt = await until(
      async () => {
        const [first] = await listAttempts(test.supervisor.database.db, id);
        return first?.endedAt ? first : undefined;
      },
      'the first attempt to end',
      120_000,
    );
    expect(attempt).toMatchObject({
      outcome: 'budget_exceeded',
      evidence: { source: 'watchdog', signal: 'budget' },
      inputTokens: 1_000_000,
      outputTokens: 50_000,
    });
    expect(Number(attempt.costUsd)).toBeCloseTo(3.75, 6);
  }, 180_000);
});
