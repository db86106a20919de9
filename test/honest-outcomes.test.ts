import { describe, expect, it } from 'vitest';
import type { Step } from '../src/scripted-model/steps.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { listAttempts } from '../src/store/task-store.ts';
import { createSourceRepo } from './support/git-repo.ts';
import { scriptedClaudeEnv, type TestSupervisor } from './support/harness.ts';
import { scriptedSuite } from './support/scripted-suite.ts';

/**
 * "Succeeded" means a result: the real Claude Code CLI against the scripted model server, ending
 * its runs the ways that look like success to the CLI (exit 0, `is_error: false`) but are not.
 */

const askBranch = steps.toolUse([
  {
    name: 'AskUserQuestion',
    input: {
      questions: [
        {
          question: 'Which branch should I analyse?',
          header: 'Branch',
          options: [
            { label: 'main', description: 'the default branch' },
            { label: 'release', description: 'the release branch' },
          ],
          multiSelect: false,
        },
      ],
    },
  },
]);

describe('honest outcomes with the real Claude Code CLI', () => {
  const suite = scriptedSuite();
  let test: TestSupervisor | undefined;
  let keys = 0;

  const start = async (script: Step[], env: Record<string, string> = {}) => {
    const key = `sk-honest-${++keys}-${Date.now()}`;
    suite.model.script(key, script);
    test = await suite.start({
      env: { ...scriptedClaudeEnv(suite.model.url, key), AGENT_IDLE_TIMEOUT_SECONDS: '60', ...env },
    });
    return { key, test };
  };
  const run = async (submission: Parameters<TestSupervisor['supervisor']['tasks']['submit']>[0]) => {
    const { task } = await test!.supervisor.tasks.submit(submission, { actor: { name: 'local' } });
    const done = await test!.waitForStatus(task.id, ['succeeded', 'failed', 'parked', 'cancelled'], 90_000);
    const attempts = await listAttempts(test!.supervisor.database.db, task.id);
    const view = await (await test!.supervisor.app.inject({ url: `/api/v1/tasks/${task.id}` })).json();
    return { done, attempts, view };
  };
  const requestsOf = (key: string) =>
    suite.model.requests((r) => r.credential === key && r.body !== undefined);

  it('ends a review answered in plain text no_result, retried, with the text kept', async () => {
    const repository = createSourceRepo({ 'auth.py': 'token = old()\n' }).path;
    const { key } = await start([steps.text('Looks fine to me.', { repeat: 4 })], { TASK_MAX_ATTEMPTS: '2' });
    const { done, attempts, view } = await run({
      type: 'PR_REVIEW',
      payload: { repository, title: 'Refresh tokens', diff: '--- a/auth.py\n+++ b/auth.py\n' },
      priority: 5,
    });
    expect(done.status).toBe('failed');
    expect(done.outcome).toBe('no_result');
    // The CLI insists once per run ("You MUST call the StructuredOutput tool"), then gives up: two
    // requests per attempt, and the attempt is retried because a slip of form may not repeat.
    expect(attempts.map((a) => [a.outcome, a.countsAgainstBudget])).toEqual([
      ['no_result', true],
      ['no_result', true],
    ]);
    expect(requestsOf(key)).toHaveLength(4);
    expect(attempts[0]!.evidence).toMatchObject({ field: 'structured_output', value: null });
    expect(view.error).toMatch(/no_result on attempt 2 of 2: .*never called the structured-output tool/);
    expect(view.result).toEqual({ text: 'Looks fine to me.', data: null });
  });

  it('ends a bug fix that changed nothing no_change, not retried', async () => {
    const source = createSourceRepo({ 'calc.js': 'export const add = (a, b) => a + b;\n' });
    const { key } = await start(
      [
        steps.toolUse([{ name: 'Read', input: { file_path: '{{cwd}}/calc.js' } }]),
        steps.text('add() already returns the sum; there is nothing to fix.'),
      ],
      { TASK_MAX_ATTEMPTS: '3' },
    );
    const { done, attempts, view } = await run({
      type: 'BUG_FIX',
      payload: { repository: source.path, description: 'add() subtracts' },
      priority: 5,
    });
    expect(done).toMatchObject({ status: 'failed', outcome: 'no_change' });
    expect(attempts.map((a) => a.outcome)).toEqual(['no_change']);
    expect(attempts[0]!.evidence).toMatchObject({ signal: 'workspace', field: 'files_changed', value: 0 });
    expect(requestsOf(key)).toHaveLength(2);
    expect(view.error).toMatch(/no_change is not fixed by retrying: the agent changed no file/);
    expect(view.result.text).toBe('add() already returns the sum; there is nothing to fix.');
    expect(view.result.data.workspace).toMatchObject({ files_changed: 0, commits: [] });
  });

  it('stops at an AskUserQuestion call: needs_input, with the question on the attempt and the task', async () => {
    const repository = createSourceRepo({ 'a.js': '1\n' }).path;
    // The guess comes slowly: the run is stopped at the question before the model can answer it.
    const { key } = await start(
      [askBranch, steps.text('I will assume main.', { delayMs: 20_000, repeat: 3 })],
      {
        TASK_MAX_ATTEMPTS: '3',
      },
    );
    const { done, attempts, view } = await run({
      type: 'CODE_ANALYSIS',
      payload: { repository },
      priority: 5,
    });
    expect(done).toMatchObject({ status: 'failed', outcome: 'needs_input' });
    expect(attempts).toHaveLength(1);
    const question = 'Which branch should I analyse? (main / release)';
    expect(attempts[0]).toMatchObject({
      outcome: 'needs_input',
      question,
      evidence: { signal: 'assistant', field: 'tool_use', value: 'AskUserQuestion' },
    });
    expect(view.question).toBe(question);
    const [attemptView] = (
      await (await test!.supervisor.app.inject({ url: `/api/v1/tasks/${done.id}/attempts` })).json()
    ).items;
    expect(attemptView.question).toBe(question);
    // Stopped at the question: the CLI may already have sent the tool's refusal back (a race with
    // the stop), but the model's guess never became the task's result.
    expect(requestsOf(key).length).toBeLessThanOrEqual(2);
    expect(view.result?.text ?? null).not.toBe('I will assume main.');
  });

  it('ends a change that changed nothing and asks needs_input', async () => {
    const source = createSourceRepo({ 'util.js': 'export const x = 1;\n' });
    await start([steps.text('I read the code.\n\nShould util.js be split into two modules?')]);
    const { done, view } = await run({
      type: 'REFACTOR',
      payload: { repository: source.path, description: 'tidy util.js' },
      priority: 5,
    });
    expect(done).toMatchObject({ status: 'failed', outcome: 'needs_input' });
    expect(view.question).toBe('Should util.js be split into two modules?');
  });

  it('stores an answer with a NUL in it and ends succeeded once, on PostgreSQL too', async () => {
    for (const backend of ['pglite', ...(process.env.CI ? ['postgres' as const] : [])] as const) {
      const repository = createSourceRepo({ 'a.js': '1\n' }).path;
      const key = `sk-honest-nul-${backend}-${Date.now()}`;
      suite.model.script(key, [
        steps.toolUse([{ name: 'StructuredOutput', input: { summary: 'bytes a\u0000b', findings: [] } }], {
          text: 'Reading \u0000 binary.',
        }),
      ]);
      test = await suite.start({
        backend,
        env: { ...scriptedClaudeEnv(suite.model.url, key), AGENT_IDLE_TIMEOUT_SECONDS: '60' },
      });
      const { done, attempts, view } = await run({
        type: 'CODE_ANALYSIS',
        payload: { repository },
        priority: 5,
      });
      expect(done.status, String(done.error)).toBe('succeeded');
      expect(attempts.map((a) => a.outcome)).toEqual(['succeeded']);
      expect(requestsOf(key)).toHaveLength(1);
      expect(view.result.data.structured_output.summary).toBe('bytes a\uFFFDb');
      // The task's memory entry is stored the same way.
      const [memory] = await test.supervisor.database.db.query.memoryEntries.findMany();
      expect(memory?.content).toContain('a\uFFFDb');
      await test.stop();
    }
  });

  it('fails a review of a repository it cannot check out before any agent runs', async () => {
    const { key } = await start([steps.text('unreached')]);
    const { done, attempts } = await run({
      type: 'PR_REVIEW',
      payload: { repository: 'acme/nowhere', title: 'T', diff: '+x\n' },
      priority: 5,
    });
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/"acme\/nowhere" names no location: set REPOS_ROOT or GIT_BASE_URL/);
    expect(attempts.map((a) => [a.outcome, a.apiRequests])).toEqual([['failed', 0]]);
    expect(requestsOf(key)).toHaveLength(0);
  });
});
