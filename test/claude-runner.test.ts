import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Outcome } from '../src/core/outcome.ts';
import type { Step } from '../src/scripted-model/steps.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { listAttempts, listEvents } from '../src/store/task-store.ts';
import { processesUnder } from './support/agent-processes.ts';
import { createSourceRepo, LEAVES_A_DAEMON } from './support/git-repo.ts';
import { scriptedClaudeEnv, type TestSupervisor } from './support/harness.ts';
import { scriptedSuite } from './support/scripted-suite.ts';
import { SEED_PR_REVIEW } from './support/seed.ts';

/**
 * The real `claude` binary (pinned in package.json) against the scripted model server: these runs
 * go through the whole supervisor — queue, workspace, prompt, driver, classifier, store.
 */

const review = {
  summary: 'The refresh is correct but untested.',
  verdict: 'comment',
  findings: [
    { severity: 'minor', file: 'auth.py', line: 2, title: 'No test', detail: 'Add a test for refresh().' },
  ],
};
const seed = SEED_PR_REVIEW;

interface SseEvent {
  id: number;
  type: string;
  data: Record<string, unknown>;
}

/** Reads an SSE response until the server closes it (or `stopAfter` events). */
async function readStream(
  url: string,
  headers: Record<string, string> = {},
  stopAfter = Infinity,
): Promise<SseEvent[]> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(60_000) });
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body!) {
    buffer += decoder.decode(chunk, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
      const data = /^data: (.*)$/m.exec(frame)?.[1];
      if (data && /^id: /m.test(frame)) events.push(JSON.parse(data) as SseEvent);
      if (events.length >= stopAfter) return events;
    }
  }
  return events;
}

describe('tasks run by the real Claude Code CLI', () => {
  const suite = scriptedSuite();
  let test: TestSupervisor | undefined;
  let keyCounter = 0;

  /** A supervisor whose only agent uses a fresh key that `script` is registered for. */
  const start = async (script: Step[], env: Record<string, string> = {}, oauth = false) => {
    const key = `sk-test-${++keyCounter}-${Date.now()}`;
    suite.model.script(key, script);
    test = await suite.start({
      listen: true,
      env: {
        ...scriptedClaudeEnv(suite.model.url, key),
        CLAUDE_API_TIMEOUT_MS: '2000',
        AGENT_IDLE_TIMEOUT_SECONDS: '3',
        TASK_MAX_ATTEMPTS: '1',
        ...env,
      },
      ...(oauth
        ? {
            agents: [
              {
                id: 'seat-1',
                cli: 'claude-code' as const,
                credential: { kind: 'subscription' as const, value: key },
                // Requests over HTTP in development mode come from `local`; the seat is that user's.
                owner: 'local',
                limits: {
                  models: ['claude-sonnet-4-5'],
                  maxConcurrent: 2,
                  windows: [],
                  baseUrl: suite.model.url,
                },
              },
            ],
          }
        : {}),
    });
    return { key, test };
  };
  const submit = async (body: unknown) => {
    const response = await fetch(`${test!.url}/api/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: string };
  };
  const getJson = async (path: string) =>
    // biome-ignore lint/suspicious/noExplicitAny: the tests read deep into JSON answers
    (await fetch(`${test!.url}${path}`)).json() as Promise<Record<string, any>>;

  it('runs a PR review to the scripted result, with tokens, cost and events live and afterwards', async () => {
    const { key } = await start([
      steps.toolUse([{ name: 'StructuredOutput', input: review }], {
        usage: { input_tokens: 2400, output_tokens: 150 },
      }),
    ]);
    // A review reads the code around its diff: the seed's repository, checked out locally.
    const repository = createSourceRepo({ 'auth.py': 'token = old()\n' }).path;
    const { id } = await submit({ ...seed, payload: { ...seed.payload, repository } });
    const live = await readStream(`${test!.url}/api/v1/tasks/${id}/events`);
    const task = await getJson(`/api/v1/tasks/${id}`);

    expect(task.status).toBe('succeeded');
    expect(task.outcome).toBe('succeeded');
    expect(task.result.data.structured_output).toEqual(review);
    expect(JSON.parse(task.result.text)).toEqual(review);
    // 2400 in, 150 out on Sonnet at $3/$15 per million tokens.
    expect(task.cost).toMatchObject({ usd: 0.00945, input_tokens: 2400, output_tokens: 150 });
    const [attempt] = (await getJson(`/api/v1/tasks/${id}/attempts`)).items;
    expect(attempt).toMatchObject({
      outcome: 'succeeded',
      agent_id: 'claude-1',
      model: 'claude-sonnet-4-5',
      cost_usd: 0.00945,
    });
    expect(attempt.session_id).toMatch(/^[0-9a-f-]{36}$/);

    // The stream carried the run as it happened, from status to result.
    const types = live.map((event) => event.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'status',
        'supervisor/workspace',
        'system/init',
        'assistant',
        'result/success',
      ]),
    );
    expect(live.at(-1)).toMatchObject({ type: 'status', data: { status: 'succeeded' } });
    const ids = live.map((event) => event.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);

    // Afterwards: the same events replayed, and a resume after the third one gives exactly the rest.
    const replay = await readStream(`${test!.url}/api/v1/tasks/${id}/events`);
    expect(replay.map((event) => event.id)).toEqual(ids);
    const resumed = await readStream(`${test!.url}/api/v1/tasks/${id}/events`, {
      'last-event-id': String(ids[2]),
    });
    expect(resumed.map((event) => event.id)).toEqual(ids.slice(3));

    // The prompt fenced the diff as data, and the credential never reached the stored events.
    const request = suite.model.requests((r) => r.credential === key && r.body !== undefined)[0]!;
    const prompt = JSON.stringify(request.body!.messages);
    expect(prompt).toMatch(/<untrusted-data kind=\\"diff\\" nonce=\\"[0-9a-f]{16}\\">/);
    expect(JSON.stringify(replay)).not.toContain(key);
  });

  it('fixes a bug on its own branch: a commit and a diff, the source checkout untouched', async () => {
    const source = createSourceRepo({
      'calc.js': 'export function add(a, b) {\n  return a - b;\n}\n',
      'README.md': '# calc\n',
    });
    await start(
      [
        // Claude Code refuses to edit a file it has not read, as a real model run would.
        steps.toolUse([{ name: 'Read', input: { file_path: '{{cwd}}/calc.js' } }]),
        steps.toolUse([
          {
            name: 'Edit',
            input: { file_path: '{{cwd}}/calc.js', old_string: 'return a - b;', new_string: 'return a + b;' },
          },
        ]),
        steps.text('Fixed add(): it subtracted instead of adding.'),
      ],
      { WORKSPACE_RETENTION_HOURS: '1' },
    );
    const { id } = await submit({
      type: 'BUG_FIX',
      payload: { repository: source.path, description: 'add() returns the difference instead of the sum' },
    });
    await test!.waitForStatus(id, ['succeeded', 'failed'], 60_000);
    const task = await getJson(`/api/v1/tasks/${id}`);

    expect(task).toMatchObject({
      status: 'succeeded',
      result: { text: 'Fixed add(): it subtracted instead of adding.' },
    });
    const change = task.result.data.workspace;
    expect(change).toMatchObject({
      branch: `supervisor/${id}`,
      base_commit: source.head,
      files_changed: 1,
      insertions: 1,
      deletions: 1,
    });
    expect(change.commits).toHaveLength(1);
    expect(change.commits[0].subject).toBe(`supervisor: BUG_FIX ${id}`);

    const diff = await fetch(`${test!.url}/api/v1/tasks/${id}/diff`);
    expect(diff.headers.get('content-type')).toContain('text/x-diff');
    expect(diff.headers.get('x-branch')).toBe(`supervisor/${id}`);
    const text = await diff.text();
    expect(text).toContain('-  return a - b;');
    expect(text).toContain('+  return a + b;');

    // The worktree holds the fix; the source repository has no new commit, branch or change.
    const [attempt] = await listAttempts(test!.supervisor.database.db, id);
    expect(readFileSync(join(test!.dataDir, 'workspaces', id, attempt!.id, 'calc.js'), 'utf8')).toContain(
      'return a + b;',
    );
    expect(source.git('rev-parse', 'HEAD')).toBe(source.head);
    expect(source.git('status', '--porcelain')).toBe('');
    expect(source.git('branch', '--list')).toBe('* main');
    expect(readFileSync(join(source.path, 'calc.js'), 'utf8')).toContain('return a - b;');

    // A read-only task has no diff. (Its script is empty, so it fails fast; wait so no agent outlives the test.)
    const reviewId = (await submit(seed)).id;
    await test!.waitForStatus(reviewId, ['failed', 'succeeded'], 60_000);
    const readOnly = await fetch(`${test!.url}/api/v1/tasks/${reviewId}/diff`);
    expect(readOnly.status).toBe(404);
    expect(((await readOnly.json()) as { error: { code: string } }).error.code).toBe('no_diff');
  });

  // With a single agent, trouble that is the agent's (rate limit, exhausted quota, a rejected
  // credential) parks the task until the agent can take it again.
  const failures: Array<
    [name: string, outcome: Outcome, status: 'failed' | 'parked', script: Step[], oauth?: boolean]
  > = [
    ['a 429 rate limit', 'rate_limited', 'parked', [steps.rateLimit(120)]],
    [
      'a subscription quota rejection',
      'quota_exhausted',
      'parked',
      [steps.quotaExhausted(Math.floor(Date.now() / 1000) + 3600)],
      true,
    ],
    // The only agent is disabled: the task waits for an operator to fix it (see agent-pool tests).
    ['a 401 bad key', 'auth_failed', 'parked', [steps.authError(10)]],
    ['a 529 overload', 'infra_error', 'failed', [steps.overloaded(10)]],
    ['a hang before headers', 'timed_out', 'failed', [{ kind: 'hang', repeat: 10 }]],
    ['a stall mid-stream', 'stalled', 'failed', [{ kind: 'stall_mid_stream', repeat: 10 }]],
    ['a truncated stream', 'infra_error', 'failed', [{ kind: 'truncated', repeat: 10 }]],
  ];

  it.each(failures)(
    'ends %s as %s (task %s), and leaves no agent process behind',
    async (_name, outcome, status, script, oauth) => {
      await start(script, {}, oauth);
      const { id } = await submit({
        type: 'CODE_ANALYSIS',
        payload: { repository: createSourceRepo({ 'a.js': '1\n' }).path },
      });
      const task = await test!.waitForStatus(id, ['failed', 'succeeded', 'parked'], 60_000);
      expect(task.status).toBe(status);
      const [attempt] = await listAttempts(test!.supervisor.database.db, id);
      expect(attempt!.outcome).toBe(outcome);
      expect(attempt!.evidence).toBeTruthy();
      expect(processesUnder(test!.dataDir)).toEqual([]);
    },
  );

  it('stops every process the agent started when the attempt ends, even one in a session of its own', async () => {
    await start(
      [
        steps.toolUse([{ name: 'Bash', input: { command: 'npm test', description: 'run the tests' } }]),
        steps.toolUse([{ name: 'Read', input: { file_path: '{{cwd}}/calc.js' } }]),
        steps.toolUse([
          {
            name: 'Edit',
            input: { file_path: '{{cwd}}/calc.js', old_string: 'return a - b;', new_string: 'return a + b;' },
          },
        ]),
        steps.text('Fixed.'),
      ],
      { AGENT_ALLOWED_COMMANDS: 'npm test,ls', AGENT_IDLE_TIMEOUT_SECONDS: '60' },
    );
    const { id } = await submit({
      type: 'BUG_FIX',
      payload: {
        repository: createSourceRepo({ 'calc.js': 'return a - b;\n', ...LEAVES_A_DAEMON }).path,
        description: 'add',
      },
    });
    const done = await test!.waitForStatus(id, ['succeeded', 'failed'], 60_000);
    const events = await listEvents(test!.supervisor.database.db, id, { limit: 1000 });
    expect(done.status, JSON.stringify(events.filter((e) => e.type === 'user')).slice(0, 2000)).toBe(
      'succeeded',
    );
    const [attempt] = await listAttempts(test!.supervisor.database.db, id);
    // The test script ran and returned at once, leaving `sleep` behind in a session of its own.
    expect(JSON.stringify(events)).toContain('setsid -f sleep 600');
    // Nothing of the attempt is left 5 s after it ended.
    await expect.poll(() => processesUnder(test!.dataDir), { timeout: 5000 }).toEqual([]);
    expect(attempt!.endedAt).toBeTruthy();
  });

  it('cancels a running task: its process group is stopped and the attempt recorded as cancelled', async () => {
    await start([steps.text('thinking about it for a long time', { chunkDelayMs: 2000, repeat: 1 })], {
      AGENT_IDLE_TIMEOUT_SECONDS: '60',
    });
    const { id } = await submit({
      type: 'CODE_ANALYSIS',
      payload: { repository: createSourceRepo({ 'a.js': '1\n' }).path },
    });
    // Wait until the agent is really running: its init event has been stored.
    await test!.waitForEvent(id, 'system/init', 30_000);
    expect(processesUnder(test!.dataDir).length).toBeGreaterThan(0);

    const cancel = await fetch(`${test!.url}/api/v1/tasks/${id}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(202);
    const task = await test!.waitForStatus(id, ['cancelled', 'failed', 'succeeded'], 5000);
    expect(task.status).toBe('cancelled');
    const [attempt] = await listAttempts(test!.supervisor.database.db, id);
    expect(attempt).toMatchObject({ outcome: 'cancelled', evidence: { signal: 'cancel' } });
    expect(processesUnder(test!.dataDir)).toEqual([]);
  });
});
