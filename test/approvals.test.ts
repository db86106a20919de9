import { createHmac } from 'node:crypto';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/load.ts';
import { Supervisor } from '../src/runtime/supervisor.ts';
import type { Step } from '../src/scripted-model/steps.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { listEvents } from '../src/store/task-store.ts';
import { createSourceRepo } from './support/git-repo.ts';
import { scriptedClaudeEnv, type TestSupervisor } from './support/harness.ts';
import { startSlackStub } from './support/notify-receivers.ts';
import { scriptedSuite } from './support/scripted-suite.ts';

/**
 * Tool calls that wait for a person, with the real Claude Code CLI: the approval policy holds a
 * call, the task shows it, a person approves or denies it (or nobody does, and it counts as denied),
 * and the agent goes on with the answer.
 */

const SIGNING_SECRET = 'slack-signing-secret-for-tests';

/** The headers Slack signs an interaction request with (`skewSeconds` moves its timestamp). */
function slackHeaders(body: string, secret: string, skewSeconds = 0): Record<string, string> {
  const timestamp = String(Math.floor(Date.now() / 1000) + skewSeconds);
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return { 'x-slack-request-timestamp': timestamp, 'x-slack-signature': signature };
}

function policyFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'approvals-')), 'approvals.yml');
  writeFileSync(file, text);
  return file;
}

/** Longer than any pause between a loaded machine's CLI events; the approval wait outlasts it. */
const IDLE_SECONDS = 20;

describe('tool calls that wait for a person', () => {
  const suite = scriptedSuite();
  let keys = 0;

  const start = async (policy: string, script: Step[], env: Record<string, string> = {}) => {
    const key = `sk-approvals-${++keys}-${Date.now()}`;
    suite.model.script(key, script);
    const test = await suite.start({
      env: {
        ...env,
        ...scriptedClaudeEnv(suite.model.url, key),
        AGENT_IDLE_TIMEOUT_SECONDS: String(IDLE_SECONDS),
        AGENT_TOOL_TIMEOUT_SECONDS: String(IDLE_SECONDS),
        CANCEL_POLL_INTERVAL_MS: '200',
        APPROVAL_POLICY_FILE: policyFile(policy),
      },
    });
    return { key, test };
  };
  const submit = async (test: TestSupervisor, repository: string) => {
    const response = await test.supervisor.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: { type: 'BUG_FIX', payload: { repository, description: 'add() subtracts' } },
    });
    expect(response.statusCode, response.body).toBe(201);
    return response.json().id as string;
  };
  const view = async (test: TestSupervisor, id: string) =>
    (await test.supervisor.app.inject({ url: `/api/v1/tasks/${id}` })).json();
  /** The tool call the task's agent waits on, once it waits on `tool`. */
  const awaiting = async (test: TestSupervisor, id: string, tool: string) => {
    await expect
      .poll(async () => (await view(test, id)).awaiting_approval?.tool ?? null, { timeout: 90_000 })
      .toBe(tool);
    return (await view(test, id)).awaiting_approval;
  };
  const decide = (test: TestSupervisor, id: string, approval: string, body: object) =>
    test.supervisor.app.inject({
      method: 'POST',
      url: `/api/v1/tasks/${id}/approvals/${approval}`,
      payload: body,
    });
  const requestsOf = (key: string) =>
    suite.model.requests((r) => r.credential === key && r.body !== undefined);
  const toolResults = (request: { body?: unknown }) => {
    const messages = (request.body as { messages: Array<{ content: unknown }> }).messages;
    return JSON.stringify(messages.at(-1)?.content ?? messages.at(-2)?.content);
  };

  it('holds a gated call for a person: approved (from Slack), it runs; denied, the agent is told why and goes on', async () => {
    const source = createSourceRepo({ 'calc.js': 'exports.add = (a, b) => a - b;\n' });
    const slack = await startSlackStub('xoxb-approvals');
    onTestFinished(() => slack.stop());
    const { key, test } = await start(
      'rules:\n  - ask:\n      bash: [node]\n      writes: ["migrations/**"]\n',
      [
        steps.toolUse([
          { name: 'Bash', input: { command: `node -e "require('fs').writeFileSync('made.txt', 'ok\\n')"` } },
        ]),
        steps.toolUse([
          { name: 'Write', input: { file_path: '{{cwd}}/migrations/001.sql', content: 'drop table x;\n' } },
        ]),
        steps.text('Made made.txt; the migration was not wanted.'),
      ],
      {
        SLACK_BOT_TOKEN: 'xoxb-approvals',
        SLACK_CHANNEL: '#approvals',
        SLACK_API_URL: slack.url,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_APPROVERS: 'U_APPROVER',
      },
    );
    const { notifier } = test.supervisor;
    await notifier.tick(); // the first tick starts from the end of the audit log
    const id = await submit(test, source.path);

    const first = await awaiting(test, id, 'Bash');
    expect(first).toMatchObject({
      status: 'pending',
      input: { command: expect.stringContaining('made.txt') },
      reason: 'a Bash command starting with "node" (policy: ask bash)',
    });
    expect((await view(test, id)).status).toBe('running');
    const inbox = (await test.supervisor.app.inject({ url: '/api/v1/inbox' })).json().items;
    expect(inbox).toEqual([
      expect.objectContaining({
        kind: 'approval',
        task_id: id,
        approval: expect.objectContaining({ id: first.id }),
      }),
    ]);
    // Longer than the idle limit: a wait for a person is not a stalled agent.
    await sleep((IDLE_SECONDS + 2) * 1000);
    expect((await view(test, id)).status).toBe('running');
    // Slack got a message with Approve and Deny buttons for it.
    await notifier.tick(new Date(Date.now() + 3_600_000));
    await expect.poll(() => slack.posts.length, { timeout: 30_000 }).toBe(1);
    const buttons = (
      slack.posts[0]!.blocks as Array<{ type: string; elements?: Array<{ value?: string }> }>
    ).find((block) => block.type === 'actions');
    expect(buttons?.elements?.map((button) => button.value)).toEqual([
      `${id}:${first.id}`,
      `${id}:${first.id}`,
    ]);
    // Pressed: a forged or stale request and a user not in SLACK_APPROVERS change nothing.
    const press = (user: string, action = 'approval_approve') =>
      `payload=${encodeURIComponent(
        JSON.stringify({
          type: 'block_actions',
          user: { id: user, username: 'ana' },
          actions: [{ action_id: action, value: `${id}:${first.id}` }],
          response_url: slack.responseUrl,
        }),
      )}`;
    const interact = (body: string, headers: Record<string, string>) =>
      test.supervisor.app.inject({
        method: 'POST',
        url: '/api/v1/slack/interactions',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        payload: body,
      });
    const forged = await interact(press('U_APPROVER'), slackHeaders(press('U_APPROVER'), 'not-the-secret'));
    expect(forged.statusCode).toBe(401);
    expect(forged.json().error.message).toContain('X-Slack-Signature does not match');
    const stale = await interact(
      press('U_APPROVER'),
      slackHeaders(press('U_APPROVER'), SIGNING_SECRET, -600),
    );
    expect(stale.statusCode).toBe(401);
    const stranger = await interact(press('U_OTHER'), slackHeaders(press('U_OTHER'), SIGNING_SECRET));
    expect(stranger.statusCode).toBe(403);
    expect((await view(test, id)).awaiting_approval?.status).toBe('pending');
    const approved = await interact(press('U_APPROVER'), slackHeaders(press('U_APPROVER'), SIGNING_SECRET));
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json().text).toBe('Approved by <@U_APPROVER>: Bash');
    // The buttons in Slack give way to who decided.
    await expect
      .poll(() => slack.responses, { timeout: 10_000 })
      .toEqual([{ replace_original: true, text: 'Approved by <@U_APPROVER>: Bash' }]);

    const second = await awaiting(test, id, 'Write');
    expect(second.reason).toBe('an edit of migrations/001.sql, under migrations/** (policy: ask writes)');
    const denied = await decide(test, id, second.id, { decision: 'deny', note: 'Not in this fix.' });
    expect(denied.statusCode, denied.body).toBe(200);
    // Decided once: a second decision is refused.
    const again = await decide(test, id, second.id, { decision: 'approve' });
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toMatchObject({ code: 'approval_closed', details: { status: 'denied' } });

    await test.waitForStatus(id, ['failed', 'succeeded'], 120_000);
    expect(await view(test, id)).toMatchObject({ status: 'succeeded', awaiting_approval: null });
    const requests = requestsOf(key);
    expect(requests).toHaveLength(3);
    expect(toolResults(requests[1]!)).not.toContain('"is_error":true');
    expect(toolResults(requests[2]!)).toContain('local denied this tool call: Not in this fix.');
    // The approved command ran in the task's workspace; the denied file was never written.
    const workspace = (await view(test, id)).result.data.workspace;
    expect(workspace.files_changed).toBe(1);
    expect(workspace.diff).toContain('+++ b/made.txt');
    expect(workspace.diff).not.toContain('migrations');

    const approvals = (await test.supervisor.app.inject({ url: `/api/v1/tasks/${id}/approvals` })).json();
    expect(
      approvals.items.map((a: { status: string; decided_by: string }) => [a.status, a.decided_by]),
    ).toEqual([
      ['approved', 'slack:ana'],
      ['denied', 'local'],
    ]);
    const audit = (await test.supervisor.app.inject({ url: `/api/v1/audit-logs?task_id=${id}` })).json();
    const actions = audit.items.map((row: { action: string }) => row.action);
    expect(actions.filter((action: string) => action.startsWith('approval.')).sort()).toEqual([
      'approval.approved',
      'approval.denied',
      'approval.requested',
      'approval.requested',
    ]);
    const events = await listEvents(test.supervisor.database.db, id, { afterId: 0, limit: 2000 });
    const decisions = events.filter((event) => event.type === 'supervisor/approval');
    expect(decisions.map((event) => (event.data as { status: string }).status)).toEqual([
      'pending',
      'approved',
      'pending',
      'denied',
    ]);
  }, 240_000);

  it('refuses what the policy names no one for, without asking: the run ends permission_denied', async () => {
    const source = createSourceRepo({ 'calc.js': 'exports.add = (a, b) => a - b;\n' });
    const outside = mkdtempSync(join(tmpdir(), 'outside-'));
    const { key, test } = await start('rules:\n  - ask:\n      bash: [node]\n', [
      steps.toolUse([{ name: 'Bash', input: { command: 'curl http://example.invalid/' } }]),
      steps.toolUse([{ name: 'Write', input: { file_path: `${outside}/escaped.txt`, content: 'x' } }]),
      steps.text('I could do neither.'),
    ]);
    const id = await submit(test, source.path);
    const done = await test.waitForStatus(id, ['failed', 'succeeded'], 120_000);
    expect(done).toMatchObject({ status: 'failed', outcome: 'permission_denied' });
    const requests = requestsOf(key);
    expect(toolResults(requests[1]!)).toContain('outside the allowlist of this task');
    expect(toolResults(requests[2]!)).toContain('Edits outside the task’s workspace are not allowed');
    expect(readdirSync(outside)).toEqual([]);
    expect((await test.supervisor.app.inject({ url: `/api/v1/tasks/${id}/approvals` })).json().items).toEqual(
      [],
    );
    const events = await listEvents(test.supervisor.database.db, id, { afterId: 0, limit: 2000 });
    expect(events.filter((event) => event.type === 'supervisor/tool_refused')).toHaveLength(2);
  }, 240_000);

  it('counts a call nobody answers in time as denied, and the agent goes on', async () => {
    const source = createSourceRepo({ 'calc.js': 'exports.add = (a, b) => a - b;\n' });
    const { key, test } = await start(
      `rules:\n  - repositories: ["${source.path}"]\n    ask: { bash: ["*"] }\n    timeout_seconds: 2\n`,
      [
        steps.toolUse([{ name: 'Bash', input: { command: 'node -e 1' } }]),
        steps.toolUse([
          { name: 'Write', input: { file_path: '{{cwd}}/NOTES.md', content: 'add() subtracts.\n' } },
        ]),
        steps.text('Fixed add() without running node.'),
      ],
    );
    const id = await submit(test, source.path);
    const pending = await awaiting(test, id, 'Bash');
    const done = await test.waitForStatus(id, ['failed', 'succeeded'], 120_000);
    expect(done, done.error ?? '').toMatchObject({ status: 'succeeded' });
    expect(toolResults(requestsOf(key)[1]!)).toContain('No one approved this tool call within 2 s');
    const late = await decide(test, id, pending.id, { decision: 'approve' });
    expect(late.statusCode).toBe(409);
    expect(late.json().error).toMatchObject({ code: 'approval_closed', details: { status: 'expired' } });
    const audit = (
      await test.supervisor.app.inject({ url: '/api/v1/audit-logs?action=approval.expired' })
    ).json();
    expect(audit.items).toEqual([expect.objectContaining({ task_id: id, actor: 'supervisor' })]);
  }, 240_000);

  it('withdraws what a cancelled task waited for: nobody can decide it any more', async () => {
    const source = createSourceRepo({ 'calc.js': 'exports.add = (a, b) => a - b;\n' });
    const { test } = await start('rules:\n  - ask: { bash: ["*"] }\n', [
      steps.toolUse([{ name: 'Bash', input: { command: 'node -e 1' } }]),
    ]);
    const id = await submit(test, source.path);
    const pending = await awaiting(test, id, 'Bash');
    await test.supervisor.app.inject({ method: 'POST', url: `/api/v1/tasks/${id}/cancel` });
    expect(await test.waitForStatus(id, ['cancelled'], 60_000)).toMatchObject({ status: 'cancelled' });
    const after = await decide(test, id, pending.id, { decision: 'approve' });
    expect(after.statusCode).toBe(409);
    expect(after.json().error).toMatchObject({ code: 'approval_closed', details: { status: 'withdrawn' } });
    expect((await view(test, id)).awaiting_approval).toBeNull();
    expect((await test.supervisor.app.inject({ url: '/api/v1/inbox' })).json().items).toEqual([]);
    const audit = (
      await test.supervisor.app.inject({ url: '/api/v1/audit-logs?action=approval.withdrawn' })
    ).json();
    expect(audit.items).toEqual([expect.objectContaining({ task_id: id, actor: 'supervisor' })]);
  }, 240_000);
});

describe('the approval policy file', () => {
  const start = (file: string) =>
    Supervisor.start({
      // Nothing is started before the file is read: the data directory is never touched.
      config: loadConfig({ env: { APPROVAL_POLICY_FILE: file, DATA_DIR: '/nonexistent' } }),
      logger: pino({ level: 'silent' }),
    });

  it('stops the supervisor at start when it is invalid or missing, saying why', async () => {
    const invalid = policyFile('rules:\n  - ask: { writes: [/etc/**] }\n');
    await expect(start(invalid)).rejects.toThrow(ConfigError);
    await expect(start(invalid)).rejects.toThrow(
      /rules\.0\.ask\.writes\.0: expected a path inside the repository/,
    );
    await expect(start('/nonexistent/approvals.yml')).rejects.toThrow(/ENOENT.*approvals\.yml/);
  });
});
