import { describe, expect, it } from 'vitest';
import type { AgentDefinition } from '../src/agents/agent-definition.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { listAttempts, listEvents } from '../src/store/task-store.ts';
import { createSourceRepo } from './support/git-repo.ts';
import { scriptedSuite } from './support/scripted-suite.ts';

/**
 * Failover across vendors, with the real Claude Code and Codex CLIs on one scripted model server:
 * a task whose Claude agent runs out of quota mid-run finishes on a Codex agent. Sessions do not
 * cross CLIs, so the Codex agent starts a new one, told in its first prompt what the Claude agent
 * did and finding its work on the task's branch.
 */

describe('failover from Claude Code to Codex (real CLIs)', () => {
  const suite = scriptedSuite();

  it('finishes on Codex a fix whose Claude agent ran out of quota, with the handoff in its first prompt', async () => {
    const stamp = Date.now();
    const claudeKey = `sk-ant-failover-${stamp}`;
    const codexKey = `sk-codex-failover-${stamp}`;
    const resetsAt = Math.floor(Date.now() / 1000) + 3600;
    suite.model.script(claudeKey, [
      steps.toolUse([{ name: 'Read', input: { file_path: '{{cwd}}/calc.js' } }]),
      steps.toolUse(
        [{ name: 'Edit', input: { file_path: '{{cwd}}/calc.js', old_string: 'a - b', new_string: 'a + b' } }],
        { text: 'Fixing the operator in add().' },
      ),
      steps.quotaExhausted(resetsAt, 'five_hour', { repeat: 10 }),
    ]);
    suite.model.script(codexKey, [
      steps.toolUse([{ name: 'exec_command', input: { cmd: "printf 'add test\\n' > calc.test.js" } }]),
      steps.text('Added a test; the fix was already in place.'),
    ]);
    const agents: AgentDefinition[] = [
      {
        id: 'a-claude',
        cli: 'claude-code',
        credential: { kind: 'api_key', value: claudeKey },
        limits: { models: ['claude-sonnet-4-5'], maxConcurrent: 1, windows: [], baseUrl: suite.model.url },
      },
      {
        id: 'b-codex',
        cli: 'codex',
        credential: { kind: 'api_key', value: codexKey },
        limits: { models: ['gpt-scripted'], maxConcurrent: 1, windows: [], baseUrl: `${suite.model.url}/v1` },
      },
    ];
    const test = await suite.start({
      agents,
      env: {
        AGENT_DRIVER: 'claude-code',
        CLAUDE_API_RETRIES: '0',
        TASK_MAX_ATTEMPTS: '2',
        PARK_RECHECK_SECONDS: '1',
      },
    });
    const repo = createSourceRepo({ 'calc.js': 'exports.add = (a, b) => a - b;\n' });
    const { task: submitted } = await test.supervisor.tasks.submit(
      { type: 'BUG_FIX', payload: { repository: repo.path, description: 'add() subtracts' }, priority: 5 },
      { actor: { name: 'local' } },
    );
    const task = await test.waitForStatus(submitted.id, ['succeeded', 'failed', 'parked'], 150_000);
    expect(task).toMatchObject({
      status: 'succeeded',
      resultText: 'Added a test; the fix was already in place.',
    });
    const workspace = (task.result as { workspace: { diff: string; files_changed: number } }).workspace;
    expect(workspace.files_changed).toBe(2);
    expect(workspace.diff).toContain('+exports.add = (a, b) => a + b;');
    expect(workspace.diff).toContain('+add test');

    const [claude, codex] = await listAttempts(test.supervisor.database.db, submitted.id);
    expect(claude).toMatchObject({ agentId: 'a-claude', driver: 'claude-code', outcome: 'quota_exhausted' });
    expect(codex).toMatchObject({ agentId: 'b-codex', driver: 'codex', outcome: 'succeeded' });
    expect(codex!.admission?.session).toMatchObject({ resumed: false });
    expect(codex!.admission?.session.note).toContain('ran on claude-code, which codex cannot resume');

    // Codex's first request carries the handoff: what Claude did, and the work already on the branch.
    const [first] = suite.model.requests((request) => request.credential === codexKey);
    const prompt = JSON.stringify(first!.body!.input);
    expect(prompt).toContain('## Handing over');
    expect(prompt).toContain(
      'Attempt 1 of this task ran on agent a-claude (claude-code) and ended quota_exhausted',
    );
    expect(prompt).toContain('said: Fixing the operator in add().');
    expect(prompt).toContain('used Edit');
    expect(prompt).toMatch(/calc\.js \| 2 \+-/);
    // Not the CLI's own note of the refusal: that is the supervisor's business, not the next agent's.
    expect(prompt).not.toContain('API Error');
    const events = await listEvents(test.supervisor.database.db, submitted.id, { limit: 1000 });
    expect(events.find((event) => event.type === 'supervisor/handoff')?.data).toMatchObject({
      from_attempt: 1,
      agent: 'a-claude',
      cli: 'claude-code',
      outcome: 'quota_exhausted',
    });
  }, 240_000);

  it('runs a task on the CLI its submission prefers, ahead of an agent that ranks first otherwise', async () => {
    const stamp = Date.now();
    const claudeKey = `sk-ant-prefer-${stamp}`;
    const codexKey = `sk-codex-prefer-${stamp}`;
    suite.model.script(codexKey, [steps.text(JSON.stringify({ summary: 'Fine.', findings: [] }))]);
    const agents: AgentDefinition[] = [
      {
        id: 'a-claude',
        cli: 'claude-code',
        credential: { kind: 'api_key', value: claudeKey },
        limits: { models: ['claude-sonnet-4-5'], maxConcurrent: 1, windows: [], baseUrl: suite.model.url },
      },
      {
        id: 'b-codex',
        cli: 'codex',
        credential: { kind: 'api_key', value: codexKey },
        limits: { models: ['gpt-scripted'], maxConcurrent: 1, windows: [], baseUrl: `${suite.model.url}/v1` },
      },
    ];
    const test = await suite.start({ agents, env: { AGENT_DRIVER: 'claude-code', CLAUDE_API_RETRIES: '0' } });
    const repo = createSourceRepo({ 'a.js': '1\n' });
    const { task: submitted } = await test.supervisor.tasks.submit(
      { type: 'CODE_ANALYSIS', payload: { repository: repo.path }, priority: 5, agent_cli: 'codex' },
      { actor: { name: 'local' } },
    );
    expect(await test.waitForStatus(submitted.id, ['succeeded', 'failed'], 120_000)).toMatchObject({
      status: 'succeeded',
      agentCli: 'codex',
    });
    const [attempt] = await listAttempts(test.supervisor.database.db, submitted.id);
    expect(attempt).toMatchObject({ agentId: 'b-codex', driver: 'codex' });
    expect(suite.model.requests((request) => request.credential === claudeKey)).toHaveLength(0);
  }, 180_000);
});
