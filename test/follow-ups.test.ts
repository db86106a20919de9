import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { Step } from '../src/scripted-model/steps.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { tasks } from '../src/store/schema.ts';
import { listAttempts, listEvents } from '../src/store/task-store.ts';
import { BACKENDS, type Backend } from './support/databases.ts';
import { createSourceRepo } from './support/git-repo.ts';
import { scriptedClaudeEnv, type TestSupervisor } from './support/harness.ts';
import { scriptedSuite } from './support/scripted-suite.ts';

/**
 * People in the loop, with the real Claude Code CLI: an answer to the question a task stopped on,
 * and a follow-up to a finished change, each resume the task's agent session.
 */

const analysis = {
  summary: 'One module, no problems.',
  findings: [],
};

describe('messages to a task resume its agent session', () => {
  const suite = scriptedSuite();
  let keys = 0;

  const start = async (script: Step[], env: Record<string, string> = {}, backend: Backend = 'pglite') => {
    const key = `sk-follow-up-${++keys}-${Date.now()}`;
    suite.model.script(key, script);
    const test = await suite.start({
      backend,
      env: { ...scriptedClaudeEnv(suite.model.url, key), AGENT_IDLE_TIMEOUT_SECONDS: '120', ...env },
    });
    return { key, test };
  };
  const submit = async (test: TestSupervisor, payload: Record<string, unknown>) => {
    const response = await test.supervisor.app.inject({ method: 'POST', url: '/api/v1/tasks', payload });
    expect(response.statusCode, response.body).toBe(201);
    return response.json().id as string;
  };
  const send = (test: TestSupervisor, id: string, text: string) =>
    test.supervisor.app.inject({ method: 'POST', url: `/api/v1/tasks/${id}/messages`, payload: { text } });
  const requestsOf = (key: string) =>
    suite.model.requests((r) => r.credential === key && r.body !== undefined);
  const transcript = (request: { body?: unknown }) =>
    JSON.stringify((request.body as { messages: unknown }).messages);

  it.each(BACKENDS)(
    'answers a question on %s: the next run resumes the session with the answer and ends as its type asks',
    async (backend) => {
      const repository = createSourceRepo({ 'a.js': '1\n' }).path;
      const question = 'Which branch should I analyse, main or release?';
      const { key, test } = await start(
        [
          // The CLI asks once more for the structured output, then gives up: needs_input.
          steps.text(question, { repeat: 2 }),
          steps.toolUse([{ name: 'StructuredOutput', input: analysis }]),
        ],
        {},
        backend,
      );
      const id = await submit(test, { type: 'CODE_ANALYSIS', payload: { repository } });
      const asked = await test.waitForStatus(id, ['failed', 'succeeded'], 90_000);
      expect(asked).toMatchObject({ status: 'failed', outcome: 'needs_input', question });
      // It waits for a person: in the inbox, with its question.
      const inbox = async () => (await test.supervisor.app.inject({ url: '/api/v1/inbox' })).json().items;
      expect(await inbox()).toEqual([
        expect.objectContaining({ kind: 'question', task_id: id, question, type: 'CODE_ANALYSIS' }),
      ]);

      const answered = await send(test, id, 'main, please');
      expect(answered.statusCode, answered.body).toBe(202);
      expect(answered.json()).toMatchObject({
        message: { author: 'local', text: 'main, please', kind: 'answer', run_base: 1 },
        task: { status: 'queued', outcome: null, question: null },
      });
      const done = await test.waitForStatus(id, ['failed', 'succeeded'], 90_000);
      expect(done).toMatchObject({ status: 'succeeded', outcome: 'succeeded' });
      expect(await inbox()).toEqual([]);
      const view = (await test.supervisor.app.inject({ url: `/api/v1/tasks/${id}` })).json();
      expect(view.result.data.structured_output).toEqual(analysis);

      const attempts = await listAttempts(test.supervisor.database.db, id);
      expect(attempts.map((a) => a.outcome)).toEqual(['needs_input', 'succeeded']);
      // The same session, resumed: the model's next request carries the earlier turns and the answer.
      expect(attempts[1]!.sessionId).toBe(attempts[0]!.sessionId);
      expect(attempts[1]!.admission).toMatchObject({
        session: { resumed: true, fromAttempt: attempts[0]!.id },
      });
      const requests = requestsOf(key);
      expect(requests).toHaveLength(3);
      const resumed = transcript(requests[2]!);
      expect(resumed).toContain(question);
      expect(resumed).toContain('main, please');
      expect(resumed).toContain('local answers your last message');

      const thread = (await test.supervisor.app.inject({ url: `/api/v1/tasks/${id}/messages` })).json();
      expect(thread.items).toEqual([expect.objectContaining({ text: 'main, please', kind: 'answer' })]);
      const audit = await test.supervisor.app.inject({ url: '/api/v1/audit-logs?action=task.message_sent' });
      expect(audit.json().items).toEqual([
        expect.objectContaining({ task_id: id, details: expect.objectContaining({ kind: 'answer' }) }),
      ]);
    },
    240_000,
  );

  it('follows up a finished fix: a second commit on the same branch; then the limit, and what takes no message', async () => {
    const source = createSourceRepo({ 'calc.js': 'exports.add = (a, b) => a - b;\n' });
    const { key, test } = await start(
      [
        steps.toolUse([{ name: 'Read', input: { file_path: '{{cwd}}/calc.js' } }]),
        steps.toolUse([
          { name: 'Edit', input: { file_path: '{{cwd}}/calc.js', old_string: 'a - b', new_string: 'a + b' } },
        ]),
        steps.text('Fixed add().'),
        steps.toolUse([
          {
            name: 'Write',
            input: {
              file_path: '{{cwd}}/calc.test.js',
              content: "require('node:assert').equal(require('./calc.js').add(2, 3), 5);\n",
            },
          },
        ]),
        steps.text('Added a test.'),
      ],
      { TASK_MESSAGES_MAX: '1' },
    );
    const id = await submit(test, {
      type: 'BUG_FIX',
      payload: { repository: source.path, description: 'add() subtracts' },
      max_duration_seconds: 600,
    });
    expect(await test.waitForStatus(id, ['failed', 'succeeded'], 90_000)).toMatchObject({
      status: 'succeeded',
    });
    // An hour later: a message starts a run of its own, whose 600 s count from that run's start.
    await test.supervisor.database.db
      .update(tasks)
      .set({ startedAt: new Date(Date.now() - 3_600_000) })
      .where(eq(tasks.id, id));
    const first = (await test.supervisor.app.inject({ url: `/api/v1/tasks/${id}` })).json().result.data
      .workspace;
    expect(first.commits).toHaveLength(1);

    expect((await send(test, id, 'Also add a test for add().')).statusCode).toBe(202);
    const done = await test.waitForStatus(id, ['failed', 'succeeded'], 90_000);
    expect(done).toMatchObject({ status: 'succeeded' });
    const view = (await test.supervisor.app.inject({ url: `/api/v1/tasks/${id}` })).json();
    const second = view.result.data.workspace;
    expect(second.branch).toBe(first.branch);
    expect(second.commits).toHaveLength(2);
    expect(second.commits.at(-1).sha).toBe(first.head_commit);
    expect(second.files_changed).toBe(2);
    expect(view.result.text).toBe('Added a test.');
    const requests = requestsOf(key);
    const resumed = transcript(requests[3]!);
    expect(resumed).toContain('Fixed add().');
    expect(resumed).toContain('Also add a test for add().');
    expect(resumed).toContain('sends a follow-up about this task');
    const attempts = await listAttempts(test.supervisor.database.db, id);
    expect(attempts[1]!.sessionId).toBe(attempts[0]!.sessionId);

    // TASK_MESSAGES_MAX=1: the next message is refused, and nothing is queued.
    const limited = await send(test, id, 'And another.');
    expect(limited.statusCode).toBe(409);
    expect(limited.json().error).toMatchObject({ code: 'message_limit', details: { limit: 1 } });

    // A queued task takes a message for after its run; one waiting for another task takes none, a
    // cancelled one neither, and one that never ran has no session.
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const waiting = await submit(test, {
      type: 'BUG_FIX',
      payload: { repository: source.path, description: 'later' },
      run_after: later,
    });
    const dependent = await submit(test, {
      type: 'BUG_FIX',
      payload: { repository: source.path, description: 'after that' },
      depends_on: [waiting],
    });
    const queued = await send(test, waiting, 'hello');
    expect(queued.statusCode).toBe(202);
    expect(queued.json()).toMatchObject({
      message: { run_base: null, reply: null },
      task: { status: 'queued' },
    });
    const notYet = await send(test, dependent, 'hello');
    expect(notYet.statusCode).toBe(409);
    expect(notYet.json().error).toMatchObject({ code: 'task_in_progress', details: { status: 'waiting' } });
    await test.supervisor.app.inject({ method: 'POST', url: `/api/v1/tasks/${waiting}/cancel` });
    expect((await send(test, waiting, 'hello again')).json().error).toMatchObject({
      code: 'invalid_transition',
      message: 'cannot follow up a task that is cancelled (allowed from cancelled: manual_retry)',
    });
    await test.waitForStatus(dependent, ['failed']);
    expect((await send(test, dependent, 'hello')).json().error).toMatchObject({ code: 'task_never_ran' });
    const empty = await send(test, id, '   ');
    expect(empty.statusCode).toBe(400);
    expect(requestsOf(key)).toHaveLength(5);
  }, 240_000);

  it('puts a message sent while the agent works into its next model request, in the same run', async () => {
    const source = createSourceRepo({ 'calc.js': 'exports.add = (a, b) => a - b;\n' });
    const { key, test } = await start(
      [
        steps.toolUse([{ name: 'Read', input: { file_path: '{{cwd}}/calc.js' } }]),
        // Slow enough for the message to reach the agent while this request is out.
        steps.toolUse(
          [
            {
              name: 'Edit',
              input: { file_path: '{{cwd}}/calc.js', old_string: 'a - b', new_string: 'a + b' },
            },
          ],
          { delayMs: 6000 },
        ),
        steps.text('Fixed add(); it subtracted because of a typo.'),
      ],
      { CANCEL_POLL_INTERVAL_MS: '200' },
    );
    const id = await submit(test, {
      type: 'BUG_FIX',
      payload: { repository: source.path, description: 'add() subtracts' },
    });
    await expect.poll(() => requestsOf(key).length, { timeout: 60_000 }).toBe(2);
    const sent = await send(test, id, 'Also say why it subtracted.');
    expect(sent.statusCode, sent.body).toBe(202);
    expect(sent.json()).toMatchObject({ message: { run_base: null }, task: { status: 'running' } });
    expect(await test.waitForStatus(id, ['failed', 'succeeded'], 90_000)).toMatchObject({
      status: 'succeeded',
    });
    // The agent got it in the same turn: the request after the edit carries it, and no run followed.
    const requests = requestsOf(key);
    expect(requests).toHaveLength(3);
    expect(transcript(requests[2]!)).toContain('Also say why it subtracted.');
    expect(transcript(requests[1]!)).not.toContain('Also say why it subtracted.');
    const attempts = await listAttempts(test.supervisor.database.db, id);
    expect(attempts.map((a) => a.outcome)).toEqual(['succeeded']);
    const thread = (await test.supervisor.app.inject({ url: `/api/v1/tasks/${id}/messages` })).json().items;
    expect(thread).toEqual([
      expect.objectContaining({
        text: 'Also say why it subtracted.',
        kind: 'steer',
        run_base: 0,
        reply: 'Fixed add(); it subtracted because of a typo.',
        reply_outcome: 'succeeded',
      }),
    ]);
    const events = await listEvents(test.supervisor.database.db, id, { afterId: 0, limit: 1000 });
    expect(events.filter((event) => event.type === 'supervisor/message')).toHaveLength(1);
  }, 240_000);
});
